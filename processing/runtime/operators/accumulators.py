"""The aggregation algebra: one accumulator per aggregation, shared by every aggregate.

COUNT, SUM, MIN, MAX, AVG, COUNT_DISTINCT, LATEST, EARLIEST, LATEST_BY_OFFSET,
EARLIEST_BY_OFFSET, COLLECT_LIST, COLLECT_SET, TOPK, TOPKDISTINCT. A store value is a list
``[max event time, acc_0, acc_1, ...]`` with one JSON-encodable accumulator per aggregation:
COUNT an int, SUM a number, MIN/MAX a value or null, AVG ``[sum, count]``, COUNT_DISTINCT a
sorted list of the values' canonical JSON, LATEST and EARLIEST ``[value, event time]`` or null,
LATEST_BY_OFFSET and EARLIEST_BY_OFFSET ``[value, offset]`` or null, COLLECT_LIST and
COLLECT_SET the list of values so far (arrival order), TOPK and TOPKDISTINCT the k largest,
largest first (the result is that list, as in ksqlDB).

An updater's third argument is the record's *order*: its event time, or for the ``_BY_OFFSET``
functions (``OFFSET_ORDERED``) its input offset, which ``Aggregations.update`` passes to those
only when an operator uses one, so other aggregates pay nothing for them.
``Aggregations`` compiles an operator's list once: ``new`` / ``update`` / ``result`` per record,
``merge`` for session merges. The non-windowed (``aggregate``) and windowed (``windows``)
operators both use it. ``subtract`` is the undo of ``update`` (Kafka Streams' subtractor) for
aggregates of tables; a function has one when ``_undoer`` returns it (COUNT, SUM, AVG, COLLECT_LIST: the
compiler's ``TABLE_AGGREGATE_FUNCTIONS``, which a test holds equal to this).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from typing import Any

import orjson

from processing.runtime.operators.base import compile_sql
from topology.compiler.plan import Aggregate

_SORTED = orjson.OPT_SORT_KEYS

# (accumulators, argument value, order) -> None; mutates ``accs[index]``. The order is the
# event time, or the input offset for the functions in OFFSET_ORDERED.
Updater = Callable[[list, Any, int], None]

# Ordered by arrival (input offset), as ksqlDB's LATEST_BY_OFFSET / EARLIEST_BY_OFFSET.
OFFSET_ORDERED = ("LATEST_BY_OFFSET", "EARLIEST_BY_OFFSET")


def _initial(function: str) -> Any:
    if function in COLLECTION_FUNCTIONS:
        return []
    if function == "COUNT":
        return 0
    if function == "SUM":
        return 0
    if function == "AVG":
        return [0, 0]
    if function == "COUNT_DISTINCT":
        return []
    return None


def _updater(
    function: str, index: int, counts_rows: bool, ignore_nulls: bool = True, k: int | None = None
) -> Updater:
    if function in COLLECTION_FUNCTIONS:
        return _collection_updater(function, index, k)
    i = index
    if function == "COUNT":
        if counts_rows:

            def count_rows(accs: list, x: Any, ts: int) -> None:
                accs[i] += 1

            return count_rows

        def count(accs: list, x: Any, ts: int) -> None:
            if x is not None:
                accs[i] += 1

        return count
    if function == "SUM":

        def sum_(accs: list, x: Any, ts: int) -> None:
            if x is not None:
                if x.__class__ not in (int, float):
                    raise TypeError(f"SUM needs numbers, got {x!r}")
                accs[i] += x

        return sum_
    if function == "MIN":

        def min_(accs: list, x: Any, ts: int) -> None:
            if x is not None and (accs[i] is None or x < accs[i]):
                accs[i] = x

        return min_
    if function == "MAX":

        def max_(accs: list, x: Any, ts: int) -> None:
            if x is not None and (accs[i] is None or x > accs[i]):
                accs[i] = x

        return max_
    if function == "AVG":

        def avg(accs: list, x: Any, ts: int) -> None:
            if x is not None:
                if x.__class__ not in (int, float):
                    raise TypeError(f"AVG needs numbers, got {x!r}")
                acc = accs[i]
                acc[0] += x
                acc[1] += 1

        return avg
    if function == "COUNT_DISTINCT":

        def count_distinct(accs: list, x: Any, ts: int) -> None:
            if x is not None:
                item = orjson.dumps(x, option=_SORTED).decode()
                seen = accs[i]
                at = bisect_left(seen, item)
                if at == len(seen) or seen[at] != item:
                    seen.insert(at, item)

        return count_distinct
    if function == "LATEST":

        def latest(accs: list, x: Any, ts: int) -> None:
            # Ties go to the later arrival, as LATEST_BY_OFFSET would.
            if x is not None and (accs[i] is None or ts >= accs[i][1]):
                accs[i] = [x, ts]

        return latest
    if function == "EARLIEST":

        def earliest(accs: list, x: Any, ts: int) -> None:
            if x is not None and (accs[i] is None or ts < accs[i][1]):
                accs[i] = [x, ts]

        return earliest
    if function in OFFSET_ORDERED and not ignore_nulls:
        # LATEST_BY_OFFSET(x, FALSE): a null is a value like any other ([None, offset] is a
        # set accumulator, so EARLIEST keeps a first null).
        if function == "LATEST_BY_OFFSET":

            def latest_by_offset_with_nulls(accs: list, x: Any, offset: int) -> None:
                accs[i] = [x, offset]

            return latest_by_offset_with_nulls

        def earliest_by_offset_with_nulls(accs: list, x: Any, offset: int) -> None:
            if accs[i] is None:
                accs[i] = [x, offset]

        return earliest_by_offset_with_nulls
    if function == "LATEST_BY_OFFSET":

        def latest_by_offset(accs: list, x: Any, offset: int) -> None:
            # Records reach an aggregate in offset order, so the last non-null one is the
            # latest; nulls are ignored (ksqlDB's default, ignoreNulls = true).
            if x is not None:
                accs[i] = [x, offset]

        return latest_by_offset
    if function == "EARLIEST_BY_OFFSET":

        def earliest_by_offset(accs: list, x: Any, offset: int) -> None:
            if x is not None and accs[i] is None:
                accs[i] = [x, offset]

        return earliest_by_offset
    raise ValueError(f"unknown aggregate function {function!r}")


def _undoer(function: str, index: int, counts_rows: bool) -> Updater | None:
    """The subtractor of ``function`` (Kafka Streams' ``aggregate(.., adder, subtractor)``):
    takes a value the updater added back out, for the old row of a changed table row. None
    when the function has no inverse (the compiler lets only ``TABLE_AGGREGATE_FUNCTIONS``
    aggregate a table)."""
    i = index
    if function == "COUNT":
        if counts_rows:

            def uncount_rows(accs: list, x: Any, ts: int) -> None:
                accs[i] -= 1

            return uncount_rows

        def uncount(accs: list, x: Any, ts: int) -> None:
            if x is not None:
                accs[i] -= 1

        return uncount
    if function == "COLLECT_LIST":

        def uncollect(accs: list, x: Any, ts: int) -> None:
            # ksqlDB's CollectListUdaf.undo: the last occurrence goes
            values = accs[i]
            for position in range(len(values) - 1, -1, -1):
                if values[position] == x and values[position].__class__ is x.__class__:
                    del values[position]
                    return

        return uncollect
    if function == "SUM":

        def unsum(accs: list, x: Any, ts: int) -> None:
            if x is not None:
                if x.__class__ not in (int, float):
                    raise TypeError(f"SUM needs numbers, got {x!r}")
                accs[i] -= x

        return unsum
    if function == "AVG":

        def unavg(accs: list, x: Any, ts: int) -> None:
            if x is not None:
                if x.__class__ not in (int, float):
                    raise TypeError(f"AVG needs numbers, got {x!r}")
                acc = accs[i]
                acc[0] -= x
                acc[1] -= 1

        return unavg
    return None


def _merge(function: str, a: Any, b: Any) -> Any:
    """Combine two accumulators of one aggregation (session merges). ``b`` is the later one."""
    if function in ("COUNT", "SUM"):
        return a + b
    if function == "AVG":
        return [a[0] + b[0], a[1] + b[1]]
    if function == "COUNT_DISTINCT":
        return sorted(set(a) | set(b))
    if a is None:
        return b
    if b is None:
        return a
    if function == "MIN":
        return min(a, b)
    if function == "MAX":
        return max(a, b)
    if function == "LATEST":
        return b if b[1] >= a[1] else a
    if function == "EARLIEST":
        return a if a[1] <= b[1] else b
    if function == "LATEST_BY_OFFSET":
        return b if b[1] >= a[1] else a
    if function == "EARLIEST_BY_OFFSET":
        return a if a[1] <= b[1] else b
    raise ValueError(function)


def _finisher(function: str) -> Callable[[Any], Any]:
    if function in COLLECTION_FUNCTIONS:
        return list  # a copy: the accumulator goes on changing after the result is emitted
    if function == "AVG":
        return lambda acc: acc[0] / acc[1] if acc[1] else None
    if function == "COUNT_DISTINCT":
        return len
    if function in ("LATEST", "EARLIEST", *OFFSET_ORDERED):
        return lambda acc: None if acc is None else acc[0]
    return lambda acc: acc


class Aggregations:
    """The compiled aggregation list of one operator."""

    def __init__(self, op: Aggregate) -> None:
        self.names = tuple(a.name for a in op.aggregations)
        self.functions = tuple(a.function for a in op.aggregations)
        self.initial = [_initial(f) for f in self.functions]
        self.arguments = tuple(
            None if a.argument in (None, "*") else compile_sql(a.argument, op.node_id)
            for a in op.aggregations
        )
        self.updaters = tuple(
            _updater(a.function, n + 1, a.argument in (None, "*"), a.ignore_nulls, a.k)
            for n, a in enumerate(op.aggregations)
        )
        self.ks = tuple(a.k for a in op.aggregations)
        self.finishers = tuple(_finisher(f) for f in self.functions)
        self.undoers = tuple(
            _undoer(f, n + 1, arg is None)
            for n, (f, arg) in enumerate(zip(self.functions, self.arguments, strict=True))
        )
        self.count_only = self.functions == ("COUNT",) and self.arguments == (None,)
        self.first_name = self.names[0] if self.names else ""
        self.steps = tuple(zip(self.arguments, self.updaters, strict=True))
        self.plain = all(f in ("COUNT", "SUM", "MIN", "MAX") for f in self.functions)
        self.mutable_initial = any(v.__class__ is list for v in self.initial)
        self.offset_ordered = tuple(f in OFFSET_ORDERED for f in self.functions)
        if any(self.offset_ordered):
            self.ordered_steps = tuple(zip(self.arguments, self.updaters, self.offset_ordered, strict=True))
            self.update = self._update_ordered  # type: ignore[method-assign]
        elif len(self.steps) == 1:
            # One aggregation (the common case): no loop over the steps per record.
            self.update = self._single_update(*self.steps[0])  # type: ignore[method-assign]

    def subtract(self, accs: list, value: Any, key: Any, ts: int, partition: int, offset: int) -> None:
        """Take ``value`` back out of ``accs`` (the undo of ``update``); the timestamp stays
        the largest seen, as Kafka Streams' table aggregate keeps it."""
        for argument, undo, function in zip(self.arguments, self.undoers, self.functions, strict=True):
            if undo is None:
                raise ValueError(f"{function} cannot take a value back out (it has no subtractor)")
            undo(accs, None if argument is None else argument(value, key, ts, partition, offset), ts)
        if ts > accs[0]:
            accs[0] = ts

    def copy(self, accs: list) -> list:
        """A copy that ``update`` / ``subtract`` can change without touching ``accs``."""
        return [list(v) if v.__class__ is list else v for v in accs]

    def new(self, ts: int) -> list:
        if not self.mutable_initial:
            return [ts, *self.initial]
        # Deep enough copy: AVG and COUNT_DISTINCT accumulators are lists mutated in place.
        return [ts, *[list(v) if v.__class__ is list else v for v in self.initial]]

    def update(self, accs: list, value: Any, key: Any, ts: int, partition: int, offset: int) -> None:
        for argument, update in self.steps:
            update(accs, None if argument is None else argument(value, key, ts, partition, offset), ts)
        if ts > accs[0]:
            accs[0] = ts

    def _update_ordered(self, accs: list, value: Any, key: Any, ts: int, partition: int, offset: int) -> None:
        for argument, update, by_offset in self.ordered_steps:
            x = None if argument is None else argument(value, key, ts, partition, offset)
            update(accs, x, offset if by_offset else ts)
        if ts > accs[0]:
            accs[0] = ts

    @staticmethod
    def _single_update(argument: Any, update: Updater) -> Callable[..., None]:
        if argument is None:

            def update_rows(accs: list, value: Any, key: Any, ts: int, partition: int, offset: int) -> None:
                update(accs, None, ts)
                if ts > accs[0]:
                    accs[0] = ts

            return update_rows

        def update_one(accs: list, value: Any, key: Any, ts: int, partition: int, offset: int) -> None:
            update(accs, argument(value, key, ts, partition, offset), ts)
            if ts > accs[0]:
                accs[0] = ts

        return update_one

    def result(self, accs: list) -> dict:
        if self.plain:
            if len(accs) == 2:
                return {self.first_name: accs[1]}
            return dict(zip(self.names, accs[1:], strict=False))
        return {
            name: finish(acc) for name, finish, acc in zip(self.names, self.finishers, accs[1:], strict=False)
        }

    def merge(self, a: list, b: list) -> list:
        return [
            max(a[0], b[0]),
            *[
                _collection_merge(f, x, y, k) if f in COLLECTION_FUNCTIONS else _merge(f, x, y)
                for f, x, y, k in zip(self.functions, a[1:], b[1:], self.ks, strict=True)
            ],
        ]


# --- COLLECT_LIST, COLLECT_SET, TOPK, TOPKDISTINCT ---------------------------------------------
# ksqlDB's semantics: COLLECT_LIST and COLLECT_SET keep nulls (a null is one value of the set)
# and stop growing at COLLECT_LIMIT values, later ones are ignored (ksqlDB's
# ksql.functions.collect_list.limit / collect_set.limit, 1000 as in Confluent Cloud); TOPK and
# TOPKDISTINCT skip nulls and keep the k largest, largest first (TOPK keeps equal values).

COLLECTION_FUNCTIONS = ("COLLECT_LIST", "COLLECT_SET", "TOPK", "TOPKDISTINCT")
COLLECT_LIMIT = 1000
_ORDERED = (int, float, str)


def _collection_updater(function: str, index: int, k: int | None) -> Updater:
    i = index
    if function == "COLLECT_LIST":

        def collect_list(accs: list, x: Any, ts: int) -> None:
            if len(accs[i]) < COLLECT_LIMIT:
                accs[i].append(x)

        return collect_list
    if function == "COLLECT_SET":

        def collect_set(accs: list, x: Any, ts: int) -> None:
            seen = accs[i]
            if len(seen) < COLLECT_LIMIT and not _contains(seen, x):
                seen.append(x)

        return collect_set
    if k is None or k < 1:
        raise ValueError(f"{function} needs k, the number of values to keep")
    size = k
    distinct = function == "TOPKDISTINCT"

    def top_k(accs: list, x: Any, ts: int) -> None:
        if x is None:
            return
        if x.__class__ not in _ORDERED:
            raise TypeError(f"{function} needs numbers or strings, got {x!r}")
        top = accs[i]
        try:
            if len(top) == size and x <= top[-1]:
                return
            if distinct and x in top:
                return
            top.append(x)
            top.sort(reverse=True)
        except TypeError:
            raise TypeError(f"{function} needs values of one kind (numbers or strings), got {x!r}") from None
        del top[size:]

    return top_k


def _collection_merge(function: str, a: list, b: list, k: int | None) -> list:
    if function == "COLLECT_LIST":
        return a + b[: max(COLLECT_LIMIT - len(a), 0)]
    if function == "COLLECT_SET":
        merged = list(a)
        for x in b:
            if len(merged) >= COLLECT_LIMIT:
                break
            if not _contains(merged, x):
                merged.append(x)
        return merged
    ordered = sorted(a + b, reverse=True)
    if function == "TOPKDISTINCT":
        ordered = [x for n, x in enumerate(ordered) if n == 0 or x != ordered[n - 1]]
    return ordered[:k]


def _contains(values: list, x: Any) -> bool:
    """``x in values`` by JSON value: ``1``, ``1.0`` and ``true`` are three values."""
    cls = x.__class__
    if cls is dict or cls is list:
        key = orjson.dumps(x, option=_SORTED)
        return any(v.__class__ is cls and orjson.dumps(v, option=_SORTED) == key for v in values)
    return any(v.__class__ is cls and v == x for v in values)


__all__ = ["COLLECTION_FUNCTIONS", "COLLECT_LIMIT", "OFFSET_ORDERED", "Aggregations", "Updater"]
