"""``python manage.py create_api_key USERNAME [--name N]``: a key for scripts; prints KEY:SECRET last."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from topology.apikeys import create_api_key
from topology.models import ApiKey


class Command(BaseCommand):
    help = (
        "Create an API key for USERNAME. The last line printed is KEY:SECRET; the secret is shown only here."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="what the key is for (shown in the key list)")

    def handle(self, *args, username: str, name: str, **options):
        users = get_user_model()
        try:
            user = users.objects.get(**{users.USERNAME_FIELD: username})
        except users.DoesNotExist:
            raise CommandError(f"No user named {username!r}.") from None
        if not user.is_active:
            raise CommandError(f"User {username!r} is inactive; its keys would not authenticate.")
        limit = ApiKey._meta.get_field("name").max_length
        if len(name) > limit:
            raise CommandError(f"--name is {len(name)} characters long; at most {limit} fit.")
        key, secret = create_api_key(user, name)
        label = f" ({key.name})" if key.name else ""
        self.stdout.write(
            f"Created API key {key.key_id}{label} for {username}. The secret is shown only now."
        )
        self.stdout.write(f"{key.key_id}:{secret}")
