"""``manage.py export_topology NAME [--version N]``: print a version's document as JSON."""

import json

from django.core.management.base import BaseCommand, CommandError

from topology import actions
from topology.models import Topology


class Command(BaseCommand):
    help = (
        "Print the document of a topology version (default: the latest) as JSON, ready for import_topology."
    )

    def add_base_argument(self, parser, *args, **kwargs):
        # Django's own --version (print Django's version) would shadow the topology version.
        if "--version" in args:
            return
        super().add_base_argument(parser, *args, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("name", help="Topology name.")
        parser.add_argument(
            "--version", dest="version_number", type=int, help="Version number (default: latest)."
        )

    def handle(self, *args, **options):
        topology = Topology.objects.filter(name=options["name"]).first()
        if topology is None:
            raise CommandError(f"No topology named {options['name']!r}.")
        try:
            document = actions.export_document(topology, options["version_number"])
        except actions.TopologyError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(json.dumps(document, indent=2, ensure_ascii=False))
