"""``manage.py sql``: ksqlDB's CLI against Weir's statement engine (no server in between).

``--execute 'SHOW STREAMS;'`` or ``--file script.sql`` runs the statements and exits (non-zero
at the first failure, printed with its line, column and token); with neither, an interactive
prompt reads statements ending at ';' (lines before the ';' continue the statement; readline
history when available; ``exit`` or Ctrl-D leaves). ``--define NAME=VALUE`` defines variables,
``--output json`` prints ksqlDB's REST entities instead of tables. See docs/sql.md.
"""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError

from processing.ksqldb import split_statements
from processing.selects import StatementRefused
from processing.sqlengine import StatementFailed, execute
from processing.sqlengine.cli import (
    OUTPUTS,
    format_error,
    format_results,
    new_session,
    read_file,
    resolve_user,
)
from processing.sqlengine.cli_queries import run_query

PROMPT = "ksql> "
CONTINUE = "    > "


class Command(BaseCommand):
    help = "Run ksqlDB statements (a file, a string, or an interactive prompt)."

    def add_arguments(self, parser):
        source = parser.add_mutually_exclusive_group()
        source.add_argument("--file", "-f", help="run the statements of this file and exit")
        source.add_argument("--execute", "-e", help="run these statements and exit")
        parser.add_argument("--define", "-d", action="append", metavar="NAME=VALUE", help="define a variable")
        parser.add_argument("--output", "-o", choices=OUTPUTS, default="tabular")
        parser.add_argument("--user", "-u", help="run as this user (default: the only superuser)")

    def handle(self, *args, **options):
        user = resolve_user(options["user"])
        session = new_session(options["define"], options["file"])
        output = options["output"]
        if options["file"] is not None or options["execute"] is not None:
            text = read_file(options["file"]) if options["file"] is not None else options["execute"]
            if not self._run(text, user, session, output):
                raise CommandError("a statement failed (see above)")
            return
        self._interactive(user, session, output)

    def _run(self, text, user, session, output) -> bool:
        """Statements in order: SELECTs run here (push and pull queries), runs of the others
        go to the engine; each piece keeps its line and column in ``text``."""
        for piece, is_query in _pieces(text):
            if is_query:
                try:
                    run_query(piece, user, session, output, self.stdout.write)
                except StatementRefused as refused:
                    self.stderr.write(refused.body.get("message", "the query was refused"))
                    return False
                continue
            try:
                results = execute(piece, user, session)
            except StatementFailed as failed:
                if failed.results:
                    self.stdout.write(format_results(failed.results, output))
                self.stderr.write(format_error(failed))
                return False
            printed = format_results(results, output)
            if printed:
                self.stdout.write(printed)
        return True

    def _interactive(self, user, session, output) -> None:
        try:
            import readline  # noqa: F401  (line editing and history for input())
        except ImportError:
            pass
        self.stdout.write("Weir SQL (ksqlDB dialect). End statements with ';'. 'exit' leaves.")
        buffer = ""
        while True:
            try:
                line = input(CONTINUE if buffer else PROMPT)
            except EOFError:
                self.stdout.write("")
                break
            except KeyboardInterrupt:
                self.stdout.write("")
                buffer = ""
                continue
            if not buffer and line.strip().rstrip(";").lower() in ("exit", "quit"):
                break
            buffer += line + "\n"
            if complete(buffer):
                self._run(buffer, user, session, output)
                buffer = ""
        sys.stdout.flush()


def _pieces(text: str) -> list[tuple[str, bool]]:
    """``text`` cut into runs of non-SELECT statements and single SELECTs, each padded with the
    lines and columns before it so that errors name positions in ``text``."""
    line_starts = [0] + [i + 1 for i, char in enumerate(text) if char == "\n"]
    pieces: list[tuple[str, bool]] = []
    run_start: int | None = None
    run_end = 0

    def cut(start: int, end: int) -> str:
        before = text[:start]
        column = start - (before.rfind("\n") + 1)
        return "\n" * before.count("\n") + " " * column + text[start:end]

    for statement in split_statements(text):
        start = line_starts[statement.line - 1] + statement.column - 1
        end = start + len(statement.text)
        if statement.first_word.upper() == "SELECT":
            if run_start is not None:
                pieces.append((cut(run_start, run_end), False))
                run_start = None
            pieces.append((cut(start, end), True))
        else:
            run_start = start if run_start is None else run_start
            run_end = end
    if run_start is not None:
        pieces.append((cut(run_start, run_end), False))
    return pieces


def complete(text: str) -> bool:
    """Whether ``text`` ends at a ';' outside quotes and comments (or holds no statement)."""
    statements = split_statements(text)
    return not statements or statements[-1].text.endswith(";")
