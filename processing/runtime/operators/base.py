"""What every executable operator shares: the task context, counters, errors, expressions.

Records travel depth-first, one at a time, as ``push(key, value, timestamp)`` calls from an
operator to the bound ``push`` of the next one (Kafka Streams' ProcessorContext.forward).
The metadata of the source record being processed (topic, partition, offset) lives on the
shared ``TaskContext`` instead of travelling with every record.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from processing.runtime.records import OutputRecord

Push = Callable[[Any, Any, int], None]

ALWAYS_DUE = -(1 << 62)
NEVER_DUE = 1 << 62


class NodeError(Exception):
    """A per-record failure inside one operator; the task applies the error policy."""

    def __init__(self, node_id: str, error: BaseException | str, error_class: str | None = None) -> None:
        message = error if isinstance(error, str) else (str(error) or error.__class__.__name__)
        super().__init__(message)
        self.node_id = node_id
        self.message = message
        self.error_class = error_class or (
            "ValueError" if isinstance(error, str) else error.__class__.__name__
        )


class TaskContext:
    """Mutable per-task state shared by the operators of one task."""

    __slots__ = (
        "partition",
        "offset",
        "record",
        "stream_time",
        "output",
        "emit_output",
        "cache_tables",
    )

    def __init__(self, partition: int, cache_tables: bool = False) -> None:
        self.partition = partition
        self.offset = -1
        # The input record being processed: a record cache keeps it with each entry, so an
        # error found when the entry is written at the commit names (and dead-letters) it.
        self.record: Any = None
        # Kafka Streams' stream time: the largest event time this task has seen. -1 before any
        # record, so nothing is late at the start.
        self.stream_time = -1
        self.output: list[OutputRecord] = []
        self.emit_output = self.output.append
        # Kafka Streams' record cache: a table written to a topic sends the latest value per
        # key once per commit instead of every update (see SinkNode). Off in the test driver,
        # which flushes after every record as TopologyTestDriver does.
        self.cache_tables = cache_tables


def _drop(key: Any, value: Any, timestamp: int) -> None:
    return None


class Node:
    """Base operator. ``emit`` is the bound push of the downstream operator(s).

    Operators count what they emit (``n_out``); what an operator received is the sum of its
    inputs' ``n_out`` (sources count ``n_in`` themselves), which saves a counter per record.
    """

    is_table = False
    timed = False  # True when the operator acts on stream-time advances (see on_time)
    # The stream time from which on_time has work to do; the task skips the call below it.
    # Timed operators that do not keep it up to date are called at every advance.
    due = ALWAYS_DUE

    def __init__(self, op: Any, ctx: TaskContext) -> None:
        self.op = op
        self.id: str = op.id
        self.node_id: str = op.node_id
        self.ctx = ctx
        self.emit: Push = _drop
        self.n_in = 0
        self.n_out = 0
        self.n_errors = 0
        self.n_late = 0
        self.stores: list[Any] = []

    def push(self, key: Any, value: Any, timestamp: int) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def bind(self, emit: Push) -> None:
        """Connect the operator to its downstream, once, when the task is built.

        Stateless operators build their ``push`` here as a closure over everything it needs
        (the downstream push included), so a record crosses a chain of them with no attribute
        look-ups: the fused per-record path of a sub-topology.
        """
        self.emit = emit

    def on_time(self, stream_time: int) -> None:
        """Called when the task's stream time advanced (timers: window close, join expiry)."""

    def fail(self, error: BaseException | str) -> NodeError:
        return NodeError(self.node_id, error)


def downstream(targets: list[Push]) -> Push:
    """One push that forwards to every target, in order."""
    if not targets:
        return _drop
    if len(targets) == 1:
        return targets[0]
    fan = tuple(targets)

    def fan_out(key: Any, value: Any, timestamp: int) -> None:
        for target in fan:
            target(key, value, timestamp)

    return fan_out


Expression = Callable[[Any, Any, int, int, int], Any]


def compile_sql(sql: str, node_id: str) -> Expression:
    """Compile a canonical SQL expression from the plan once, when the task is built."""
    from topology.compiler.expressions import compile_expression

    return compile_expression(sql).fn
