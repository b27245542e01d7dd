"""``manage.py apply_sql FILE``: bring the catalog to what a file of statements declares.

As ksqlDB's headless mode, it takes CREATE STREAM|TABLE (also AS SELECT), INSERT INTO ... SELECT,
SET, UNSET, DEFINE and UNDEFINE; a file with any other statement is refused before anything
runs. Applying is idempotent: a statement whose source (or query) exists with the same text
is left alone and reported unchanged; a changed CREATE is run as CREATE OR REPLACE (a changed
query is an upgrade, its verdict printed); a new one runs. See docs/sql.md.
"""

from __future__ import annotations

import dataclasses

from django.core.management.base import BaseCommand, CommandError

from processing.sqlengine import StatementFailed, parse, run_statement
from processing.sqlengine.cli import format_error, format_results, new_session, read_file, resolve_user
from topology.models import SqlQuery, SqlSource
from topology.sql import ast as sql

ALLOWED = (
    sql.CreateSource,
    sql.CreateAsSelect,
    sql.InsertIntoSelect,
    sql.SetProperty,
    sql.UnsetProperty,
    sql.Define,
    sql.Undefine,
)


def normalised(text: str) -> str:
    return " ".join(text.split()).rstrip(";")


class Command(BaseCommand):
    help = "Apply a file of CREATE / INSERT INTO ... SELECT / SET / DEFINE statements idempotently."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--user", "-u", help="apply as this user (default: the only superuser)")
        parser.add_argument("--define", "-d", action="append", metavar="NAME=VALUE", help="define a variable")

    def handle(self, *args, **options):
        user = resolve_user(options["user"])
        session = new_session(options["define"], options["file"])
        text = read_file(options["file"])
        try:
            statements = parse(text, session)
        except StatementFailed as failed:
            raise CommandError(format_error(failed)) from None
        for statement in statements:
            if not isinstance(statement, ALLOWED):
                word = statement.text.split(None, 1)[0]
                raise CommandError(
                    f"line {statement.span.line}, column {statement.span.column}, at {word!r}: "
                    f"apply_sql takes only CREATE, INSERT INTO ... SELECT, SET, UNSET, DEFINE and UNDEFINE "
                    f"(as ksqlDB's headless mode); nothing was applied\nStatement: {statement.text}"
                )
        changed = 0
        for statement in statements:
            action = self._plan(statement)
            if action is None:
                self.stdout.write(f"unchanged: {statement.text.splitlines()[0][:100]}")
                continue
            try:
                results = run_statement(action, user, session)
            except StatementFailed as failed:
                raise CommandError(format_error(failed)) from None
            if not isinstance(statement, (sql.SetProperty, sql.UnsetProperty, sql.Define, sql.Undefine)):
                changed += 1
                self.stdout.write(format_results(results, "tabular"))
        if changed == 0:
            self.stdout.write("Nothing to apply: the catalog already matches the file.")
        else:
            self.stdout.write(f"Applied {changed} statement(s).")

    def _plan(self, statement: sql.Statement) -> sql.Statement | None:
        """The statement to run for ``statement``, or None when it is already applied."""
        if isinstance(statement, (sql.CreateSource, sql.CreateAsSelect)):
            existing = SqlSource.objects.filter(name=statement.name.value).first()
            if existing is None:
                return statement
            if normalised(existing.statement) == normalised(statement.text):
                return None
            return dataclasses.replace(statement, or_replace=True, if_not_exists=False)
        if isinstance(statement, sql.InsertIntoSelect):
            texts = (
                SqlQuery.objects.active()
                .filter(sink_name=statement.target.value)
                .values_list("statement", flat=True)
            )
            if any(normalised(t) == normalised(statement.text) for t in texts):
                return None
        return statement
