"""A SQL session: the properties SET/UNSET change and the variables DEFINE/UNDEFINE change.

A REST request is one session (its ``streamsProperties`` and ``sessionVariables`` start it,
and what its statements SET lasts for that request only, as in ksqlDB); the CLI keeps one for
its whole run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from processing.sqlengine.topics import KafkaTopics, Topics

AUTO_OFFSET_RESET = "auto.offset.reset"
# Weir's own: lets CREATE OR REPLACE go ahead with an upgrade that cannot keep state
# ("reprocess" / "new identity"), as processing.actions.upgrade(confirm=True) does.
UPGRADE_CONFIRM = "weir.upgrade.confirm"
# Properties SHOW PROPERTIES lists when nothing overrides them (ksqlDB's names).
DEFAULT_PROPERTIES = {
    AUTO_OFFSET_RESET: "earliest",  # persistent queries; ksqlDB says latest (docs/sql.md)
    "ksql.service.id": "weir_",
    "ksql.streams.processing.guarantee": "at_least_once",
    UPGRADE_CONFIRM: "false",
}
CHOICES = {AUTO_OFFSET_RESET: ("earliest", "latest"), UPGRADE_CONFIRM: ("true", "false")}


@dataclass
class Session:
    properties: dict[str, str] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)
    # RUN SCRIPT reads files: only a CLI session (manage.py sql) may, as only ksqlDB's CLI does.
    cli: bool = False
    script_dir: Path = field(default_factory=Path.cwd)
    topics: Topics = field(default_factory=KafkaTopics)

    def property(self, name: str) -> str | None:
        return self.properties.get(name)

    def offset_reset(self) -> str | None:
        """The session's auto.offset.reset, when it set one."""
        value = self.properties.get(AUTO_OFFSET_RESET)
        return value.lower() if isinstance(value, str) else None

    def confirms_upgrades(self) -> bool:
        return str(self.properties.get(UPGRADE_CONFIRM, "false")).lower() == "true"
