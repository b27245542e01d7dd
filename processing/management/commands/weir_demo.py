"""Demo data for `make run`: ``weir_demo setup`` (admin user + demo topic), ``weir_demo generate``."""

import secrets
import signal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from processing.runtime.kafka.demo import DEMO_TOPIC, ensure_demo_topic, generate_pageviews

DEMO_USERNAME = "admin"


class Command(BaseCommand):
    help = "Create the demo admin user and the demo topic (setup), or feed the demo topic (generate)."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["setup", "generate"])
        parser.add_argument("--rate", type=float, default=5.0, help="page views per second (generate)")

    def handle(self, *args, action, rate, **options):
        if action == "setup":
            self.setup()
        else:
            self.generate(rate)

    def setup(self):
        password_file = settings.DATA_DIR / "demo-admin-password"
        User = get_user_model()
        user = User.objects.filter(username=DEMO_USERNAME).first()
        if user is None:
            password = secrets.token_urlsafe(12)
            User.objects.create_superuser(DEMO_USERNAME, "admin@example.invalid", password)
            password_file.parent.mkdir(parents=True, exist_ok=True)
            password_file.write_text(password + "\n")
            password_file.chmod(0o600)
        elif password_file.exists():
            password = password_file.read_text().strip()
        else:
            password = "(unchanged; reset it with: python manage.py changepassword admin)"
        self.stdout.write(f"[weir] demo admin user: {DEMO_USERNAME}  password: {password}")
        try:
            created = ensure_demo_topic(settings.KAFKA_CLIENT_CONFIG)
        except Exception as exc:
            raise CommandError(f"could not create the demo topic {DEMO_TOPIC!r}: {exc}") from exc
        self.stdout.write(f"[weir] demo topic {DEMO_TOPIC!r} {'created' if created else 'exists'}")

    def generate(self, rate: float):
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
        self.stdout.write(f"[weir] producing about {rate:g} page views per second to {DEMO_TOPIC!r}")
        sent = generate_pageviews(settings.KAFKA_CLIENT_CONFIG, lambda: bool(stopping), per_second=rate)
        self.stdout.write(f"[weir] demo generator stopped after {sent} page views")
