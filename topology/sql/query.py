"""The SELECT grammar: projection, FROM and joins, WINDOW, WHERE, GROUP BY, PARTITION BY,
HAVING, EMIT and LIMIT, in ksqlDB's clause order.

A clause expression runs until a word that starts the next clause (at bracket depth 0), a
',' at depth 0, or a ')' that closes a bracket it did not open; its tokens go to
``topology.sql.expressions.build_expression``.
"""

from __future__ import annotations

from topology.sql.ast import (
    Duration,
    Emit,
    Expression,
    Join,
    JoinType,
    JoinWindow,
    Relation,
    Select,
    SelectItem,
    SelectItemKind,
    Window,
    WindowType,
)
from topology.sql.cursor import RESERVED, Cursor, to_identifier
from topology.sql.expressions import EXPRESSION_KEYWORDS, build_expression
from topology.sql.tokens import Token, TokenKind

MAX_DURATION_MS = 2**63 - 1
MAX_LIMIT = 2**31 - 1

UNITS = {
    "MILLISECOND": 1,
    "MILLISECONDS": 1,
    "SECOND": 1_000,
    "SECONDS": 1_000,
    "MINUTE": 60_000,
    "MINUTES": 60_000,
    "HOUR": 3_600_000,
    "HOURS": 3_600_000,
    "DAY": 86_400_000,
    "DAYS": 86_400_000,
}
_UNIT_NAMES = "MILLISECONDS, SECONDS, MINUTES, HOURS or DAYS"

CLAUSE_ORDER = ("WINDOW", "WHERE", "GROUP BY", "PARTITION BY", "HAVING", "EMIT", "LIMIT")
_ORDER_TEXT = "FROM, joins, WINDOW, WHERE, GROUP BY, PARTITION BY, HAVING, EMIT, LIMIT"
_ALWAYS_STOP = frozenset(
    ("FROM", "WHERE", "WINDOW", "HAVING", "LIMIT", "JOIN", "INNER", "ON", "WITHIN", "AS")
)
_JOIN_SIDES = frozenset(("LEFT", "RIGHT", "FULL"))
# After one of these a name cannot be an implicit alias: the expression is still going on.
_OPERATOR_WORDS = EXPRESSION_KEYWORDS - frozenset(("NULL", "TRUE", "FALSE", "END"))


class QueryParser(Cursor):
    # --- clause boundaries ------------------------------------------------------------------

    def clause_at(self, index: int) -> str | None:
        """The clause or join keyword starting at token ``index``, if any."""
        token = self.tokens[index]
        if token.kind is not TokenKind.WORD:
            return None
        word = token.value
        following = self.tokens[min(index + 1, len(self.tokens) - 1)]
        if word == "FROM":
            previous = self.tokens[index - 1] if index else None
            return None if previous is not None and previous.is_word("DISTINCT") else "FROM"
        if word in ("GROUP", "PARTITION"):
            return f"{word} BY" if following.is_word("BY") else None
        if word in _JOIN_SIDES:  # LEFT(s, 2) is a call, not a join
            return None if following.is_symbol("(") else "JOIN"
        if word == "OUTER":
            return "JOIN" if following.is_word("JOIN") else None
        if word == "EMIT":
            return "EMIT"
        if word in ("JOIN", "INNER"):
            return "JOIN"
        if word in _ALWAYS_STOP:
            return word
        return None

    def scan(self) -> list[Token]:
        """The tokens of one clause expression, from the cursor (possibly none)."""
        start = self.pos
        depth = 0
        while True:
            token = self.current
            if token.kind is TokenKind.END:
                break
            if token.kind is TokenKind.SYMBOL:
                if token.value in ("(", "["):
                    depth += 1
                elif token.value in (")", "]"):
                    if depth == 0:
                        break
                    depth -= 1
                elif depth == 0 and token.value in (",", ";"):
                    break
            elif depth == 0 and token.kind is TokenKind.WORD and self.clause_at(self.pos) is not None:
                break
            self.advance()
        return self.tokens[start : self.pos]

    def expression(self, what: str, after: str) -> Expression:
        tokens = self.scan()
        if not tokens:
            raise self.expected(f"an expression {after}")
        return build_expression(tokens, self.source, what)

    def expression_list(self, what: str, after: str) -> tuple[Expression, ...]:
        """``e, e, ...`` or ksqlDB's parenthesised ``(e, e, ...)``."""
        if self.current.is_symbol("(") and self._parenthesised_list():
            self.advance()
            items = [self.expression(what, after)]
            while self.accept_symbol(","):
                items.append(self.expression(what, "after ','"))
            self.expect_symbol(")", f"to close the list {after}")
            return tuple(items)
        items = [self.expression(what, after)]
        while self.accept_symbol(","):
            items.append(self.expression(what, "after ','"))
        return tuple(items)

    def _parenthesised_list(self) -> bool:
        depth = 0
        comma = False
        for index in range(self.pos, len(self.tokens)):
            token = self.tokens[index]
            if token.kind is TokenKind.END:
                return False
            if token.is_symbol("(", "["):
                depth += 1
            elif token.is_symbol(")", "]"):
                depth -= 1
                if depth == 0:
                    after = self.tokens[index + 1]
                    return comma and (after.kind is TokenKind.END or self.clause_at(index + 1) is not None)
            elif depth == 1 and token.is_symbol(","):
                comma = True
        return False

    # --- durations --------------------------------------------------------------------------

    def duration(self, after: str) -> Duration:
        number = self.current
        if number.kind is not TokenKind.NUMBER or not number.value.isdigit():
            raise self.expected(f"a duration such as 30 SECONDS {after}")
        self.advance()
        unit = self.current
        if not unit.is_word(*UNITS):
            raise self.expected(f"a time unit ({_UNIT_NAMES}) after {number.text}")
        self.advance()
        milliseconds = int(number.value) * UNITS[unit.value]
        if milliseconds > MAX_DURATION_MS:
            raise self.error(f"the duration {number.text} {unit.text} is too long", number, "sql.limit")
        return Duration(milliseconds, f"{number.text} {unit.value}", self.span_from(number))

    def grace(self) -> Duration | None:
        if not self.accept("GRACE"):
            return None
        self.expect("PERIOD", "after GRACE")
        return self.duration("after GRACE PERIOD")

    # --- SELECT -----------------------------------------------------------------------------

    def select(self) -> Select:
        start = self.expect("SELECT", "to start the query")
        items = [self.select_item()]
        while self.accept_symbol(","):
            items.append(self.select_item())
        if not self.current.is_word("FROM"):
            raise self.expected("',' or FROM after the SELECT list")
        self.advance()
        from_ = self.relation("the stream or table name after FROM")
        joins: list[Join] = []
        while self.clause_at(self.pos) == "JOIN":
            joins.append(self.join())
        clauses: dict[str, object] = {}
        stage = 0
        while True:
            clause = self.clause_at(self.pos)
            if clause is None:
                break
            if clause not in CLAUSE_ORDER:
                if clause == "JOIN":
                    raise self.error(f"a join comes right after FROM, before {' and '.join(clauses)}")
                raise self.error(
                    f"unexpected {self.current.describe()}: the clauses of a query go {_ORDER_TEXT}"
                )
            index = CLAUSE_ORDER.index(clause)
            if clause in clauses:
                raise self.error(f"a query has one {clause} clause; this is the second")
            if index < stage:
                later = next(c for c in reversed(CLAUSE_ORDER[:stage]) if c in clauses)
                raise self.error(
                    f"{clause} must come before {later}: the clauses of a query go {_ORDER_TEXT}"
                )
            stage = index + 1
            clauses[clause] = self.clause(clause)
        if not self.at_end():
            allowed = [c for c in CLAUSE_ORDER[stage:]]
            what = ", ".join(allowed) + " or the end of the query" if allowed else "the end of the query"
            raise self.expected(what)
        return Select(
            text=self.text_from(start),
            span=self.span_from(start),
            items=tuple(items),
            from_=from_,
            joins=tuple(joins),
            window=clauses.get("WINDOW"),  # type: ignore[arg-type]
            where=clauses.get("WHERE"),  # type: ignore[arg-type]
            group_by=clauses.get("GROUP BY", ()),  # type: ignore[arg-type]
            partition_by=clauses.get("PARTITION BY", ()),  # type: ignore[arg-type]
            having=clauses.get("HAVING"),  # type: ignore[arg-type]
            emit=clauses.get("EMIT"),  # type: ignore[arg-type]
            limit=clauses.get("LIMIT"),  # type: ignore[arg-type]
        )

    def clause(self, clause: str) -> object:
        keyword = self.advance()
        if clause == "WINDOW":
            return self.window(keyword)
        if clause == "WHERE":
            return self.expression("the WHERE condition", "after WHERE")
        if clause in ("GROUP BY", "PARTITION BY"):
            self.advance()  # BY
            return self.expression_list(f"the {clause} expression", f"after {clause}")
        if clause == "HAVING":
            return self.expression("the HAVING condition", "after HAVING")
        if clause == "EMIT":
            mode = self.accept("CHANGES", "FINAL")
            if mode is None:
                raise self.expected("CHANGES or FINAL after EMIT")
            return Emit(mode.value)
        number = self.current
        if number.kind is not TokenKind.NUMBER or not number.value.isdigit():
            raise self.expected("a whole number of rows after LIMIT")
        self.advance()
        if int(number.value) > MAX_LIMIT:
            raise self.error(f"LIMIT {number.text} is more than {MAX_LIMIT}", number, "sql.limit")
        return int(number.value)

    def select_item(self) -> SelectItem:
        start = self.current
        if start.is_symbol("*"):
            self.advance()
            return SelectItem(SelectItemKind.STAR, self.span_from(start))
        if start.is_identifier and self.peek().is_symbol(".") and self.peek(2).is_symbol("*"):
            self.pos += 3
            return SelectItem(
                SelectItemKind.QUALIFIED_STAR, self.span_from(start), qualifier=to_identifier(start)
            )
        tokens = self.scan()
        if not tokens:
            raise self.expected("an expression or * in the SELECT list")
        alias = None
        if self.accept("AS"):
            alias = self.identifier("the column name after AS")
        elif len(tokens) >= 2 and _is_implicit_alias(tokens[-2], tokens[-1]):
            alias = to_identifier(tokens[-1])
            tokens = tokens[:-1]
        expression = build_expression(tokens, self.source, "the SELECT expression")
        return SelectItem(
            SelectItemKind.EXPRESSION, self.span_from(start), expression=expression, alias=alias
        )

    def relation(self, what: str) -> Relation:
        start = self.current
        name = self.identifier(what)
        alias = None
        if self.accept("AS"):
            alias = self.identifier(f"an alias after {name.text} AS")
        elif self.is_name() and self.clause_at(self.pos) is None and not self.current.is_word("GRACE"):
            alias = to_identifier(self.advance())
        return Relation(name, alias, self.span_from(start))

    def join(self) -> Join:
        start = self.current
        join_type = JoinType.INNER
        side = self.accept("INNER", "LEFT", "RIGHT", "FULL")
        if side is not None:
            join_type = JoinType(side.value)
            if side.value != "INNER":
                self.accept("OUTER")
        elif self.current.is_word("OUTER"):
            raise self.error("OUTER JOIN needs a side: LEFT, RIGHT or FULL OUTER JOIN")
        self.expect("JOIN", f"after {self.previous.text}")
        relation = self.relation("the stream or table name after JOIN")
        within = None
        within_token = self.accept("WITHIN")
        if within_token is not None:
            if self.accept_symbol("("):
                before = self.duration("before the join window's ','")
                self.expect_symbol(",", "between the before and after durations of WITHIN")
                after = self.duration("after ',' in WITHIN")
                self.expect_symbol(")", "to close WITHIN (before, after)")
            else:
                before = after = self.duration("after WITHIN")
            grace = self.grace()
            within = JoinWindow(before, after, grace, self.span_from(within_token))
        elif self.current.is_word("GRACE"):
            raise self.error("GRACE PERIOD of a join comes after its WITHIN window")
        if not self.current.is_word("ON"):
            hint = "WITHIN or " if within is None else ""
            raise self.expected(f"{hint}ON and the join condition after the joined {relation.name.text}")
        self.advance()
        on = self.expression("the join condition", "after ON")
        return Join(join_type, relation, within, on, self.span_from(start))

    def window(self, keyword: Token) -> Window:
        kind = self.current
        if not kind.is_word(*(w.value for w in WindowType)):
            raise self.expected("TUMBLING, HOPPING, SESSION or SLIDING after WINDOW")
        window_type = WindowType(self.advance().value)
        self.expect_symbol("(", f"after WINDOW {window_type.value}")
        options: dict[str, Duration] = {}
        if window_type is WindowType.SESSION:
            if self.current.is_word("SIZE"):
                raise self.error("a SESSION window takes its gap without SIZE, as in SESSION (5 MINUTES)")
            options["SIZE"] = self.duration("for the session gap, as in SESSION (5 MINUTES)")
            while self.accept_symbol(","):
                self.window_option(window_type, options)
        else:
            self.window_option(window_type, options)
            while self.accept_symbol(","):
                self.window_option(window_type, options)
        if not self.current.is_symbol(")"):
            raise self.expected(f"',' or ')' in WINDOW {window_type.value} (...)")
        self.advance()
        if "SIZE" not in options:
            raise self.error(
                f"a {window_type.value} window needs SIZE, as in {window_type.value} (SIZE 1 HOUR)", keyword
            )
        if window_type is WindowType.HOPPING and "ADVANCE BY" not in options:
            raise self.error(
                "a HOPPING window needs ADVANCE BY, as in HOPPING (SIZE 1 HOUR, ADVANCE BY 10 MINUTES)",
                keyword,
            )
        return Window(
            window_type,
            options["SIZE"],
            self.span_from(keyword),
            advance=options.get("ADVANCE BY"),
            retention=options.get("RETENTION"),
            grace=options.get("GRACE PERIOD"),
        )

    def window_option(self, window_type: WindowType, options: dict[str, Duration]) -> None:
        token = self.current
        allowed = ["RETENTION", "GRACE PERIOD"]
        if window_type is not WindowType.SESSION:
            allowed = ["SIZE", *(["ADVANCE BY"] if window_type is WindowType.HOPPING else []), *allowed]
        if token.is_word("SIZE", "RETENTION"):
            name = token.value
            self.advance()
        elif token.is_word("ADVANCE"):
            self.advance()
            self.expect("BY", "after ADVANCE")
            name = "ADVANCE BY"
        elif token.is_word("GRACE"):
            self.advance()
            self.expect("PERIOD", "after GRACE")
            name = "GRACE PERIOD"
        else:
            raise self.expected(" or ".join(allowed) + f" in WINDOW {window_type.value} (...)")
        if name not in allowed:
            raise self.error(
                f"{name} is not an option of a {window_type.value} window (it takes {', '.join(allowed)})",
                token,
            )
        if name in options:
            raise self.error(f"{name} is given twice", token)
        options[name] = self.duration(f"after {name}")


def _is_implicit_alias(before: Token, last: Token) -> bool:
    """``expr name``: ``name`` is an alias when ``expr`` has just ended an operand."""
    if not last.is_identifier or (
        last.kind is TokenKind.WORD and last.value in EXPRESSION_KEYWORDS | RESERVED
    ):
        return False
    if before.kind in (TokenKind.STRING, TokenKind.NUMBER, TokenKind.QUOTED):
        return True
    if before.kind is TokenKind.WORD:
        return before.value not in _OPERATOR_WORDS
    return before.is_symbol(")", "]")
