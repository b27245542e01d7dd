"""``manage.py import_topology FILE.json``: store a document as a new topology or a new version."""

import sys

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from topology import actions
from topology.management.commands.validate_topology import format_issue, read_document


class Command(BaseCommand):
    help = (
        "Import a topology document. A new name creates a topology; an existing name gets a new "
        "version (none when only layout changed). Exits 1 and prints every issue when invalid."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="Path to the topology document (JSON), or - for stdin.")
        parser.add_argument("--name", help="Topology name (default: the document's name).")
        parser.add_argument("--owner", help="Username of the owner (default: the first superuser).")
        parser.add_argument("--description", default="")
        parser.add_argument("--message", default="", help="Version message.")

    def _owner(self, username):
        users = get_user_model().objects
        if username:
            user = users.filter(**{users.model.USERNAME_FIELD: username}).first()
            if user is None:
                raise CommandError(f"No user named {username!r}.")
            return user
        user = users.filter(is_superuser=True).order_by("pk").first()
        if user is None:
            raise CommandError("No superuser exists; pass --owner USERNAME.")
        return user

    def handle(self, *args, **options):
        owner = self._owner(options["owner"])
        document, issues = read_document(options["file"])
        if issues:
            self._refuse(issues)
        try:
            topology, version, created_topology, created_version = actions.import_document(
                document,
                user=owner,
                name=options["name"],
                description=options["description"],
                message=options["message"],
            )
        except actions.InvalidDocument as exc:
            self._refuse(exc.issues)
        except actions.TopologyError as exc:
            raise CommandError(exc.message) from exc
        if created_topology:
            self.stdout.write(
                f"Created topology {topology.name} (id {topology.pk}) at version {version.number}."
            )
        elif created_version:
            self.stdout.write(f"Topology {topology.name}: new version {version.number}.")
        else:
            self.stdout.write(
                f"Topology {topology.name}: same plan as version {version.number} (layout only); no new version."
            )

    def _refuse(self, issues):
        for issue in issues:
            self.stdout.write(format_issue(issue))
        self.stderr.write("The document does not compile; nothing was imported.")
        sys.exit(1)
