"""Transient push queries: ``SELECT ... EMIT CHANGES`` run in memory, streamed to one client.

A push query is its translation's topology document (topology/sql/translate.py
``translate_push``), compiled and run in the runtime's broker-free test driver
(processing/runtime/testing.py, the preview's engine) on one daemon thread per query. The
thread feeds it from a ``TopicTail`` (processing/runtime/kafka/transient.py): every partition
of every source topic, assign() only, so no consumer group is created and nothing is
committed. What the document's sink writes to its virtual topic becomes ksqlDB rows
(``row_columns``); nothing is written to Kafka.

    query = start_push_query(translation, limit=10, properties={"auto.offset.reset": "earliest"})
    for row in query.rows():   # blocks; ends at LIMIT, on close(), or on an error
        ...
    query.close()              # idempotent; the thread and the consumer are gone when it returns

Records the query cannot process go to the driver's dead-letter list (error policy "dlq"),
counted in ``dead_letters`` and kept (the last ``MAX_KEPT_DEAD_LETTERS``) in
``dead_letter_messages``: one bad record does not end a query, as in ksqlDB, whose
processing log records it. Every running query is in a process-wide registry
(``running_queries()``, ``close_query(query_id)``).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import random
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any

from django.conf import settings

from processing.runtime import serde
from topology import compiler
from topology.compiler.plan import Source
from topology.sql.catalog import Catalog, SourceDef
from topology.sql.translate import Translation, row_columns

log = logging.getLogger(__name__)

# How long the query's thread waits for records before it looks at close() again: the bound
# on how long close() takes, and no cost to latency (a record that arrives ends the wait).
POLL_TIMEOUT_S = 0.1
# close() waits this long for the thread; a thread stuck in a broker call longer is left to
# finish by itself (it is a daemon, and it closes its consumer on the way out).
JOIN_TIMEOUT_S = 10.0
MAX_KEPT_DEAD_LETTERS = 20
# Rows waiting for a slow client. A query that gets this far ahead ends with an error rather
# than hold the server's memory (ksqlDB bounds its queue too).
MAX_QUEUED_ROWS = 100_000
PROPERTY_OFFSET_RESET = ("auto.offset.reset", "ksql.streams.auto.offset.reset")

LIMIT_REACHED = "Limit Reached"
QUERY_CLOSED = "Query Closed"


class PushQueryError(RuntimeError):
    """A push query that cannot start or stopped on an error; the message says why."""


class PushRow(list):
    """One row of a push query: its columns, and whether it deletes a table row (a tombstone)."""

    tombstone: bool = False


_END = object()


class PushQuery:
    """A running push query. ``rows()`` is for one reader; ``close()`` from any thread."""

    def __init__(self, translation: Translation, *, query_id: str, limit: int | None) -> None:
        self.translation = translation
        self.query_id = query_id
        self.schema = translation.output.schema_text()
        self.limit = limit
        self.emitted = 0
        self.dead_letters = 0
        self.dead_letter_messages: deque[str] = deque(maxlen=MAX_KEPT_DEAD_LETTERS)
        self.error: str | None = None
        self.end_reason: str | None = None  # LIMIT_REACHED, QUERY_CLOSED or the error
        self._items: queue.Queue[Any] = queue.Queue()
        self._stop = threading.Event()
        self._done = threading.Event()
        self._listeners: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    # --- reading -------------------------------------------------------------------------

    def rows(self) -> Iterator[PushRow]:
        """The rows as they come; blocks between them; ends at LIMIT, on close() or an error."""
        while True:
            try:
                item = self._items.get(timeout=POLL_TIMEOUT_S * 5)
            except queue.Empty:
                if self._done.is_set() and self._items.empty():
                    return
                continue
            if item is _END:
                self._items.put(_END)  # a second reader ends too
                return
            yield item

    def take_ready(self, timeout: float = 0.0) -> tuple[list[PushRow], bool]:
        """(rows queued now, whether the query has ended after them); waits up to ``timeout``
        for the first when none is queued."""
        taken: list[PushRow] = []
        if timeout > 0:
            try:
                first = self._items.get(timeout=timeout)
            except queue.Empty:
                return taken, False
            if first is _END:
                self._items.put(_END)
                return taken, True
            taken.append(first)
        while True:
            try:
                item = self._items.get_nowait()
            except queue.Empty:
                return taken, False
            if item is _END:
                self._items.put(_END)
                return taken, True
            taken.append(item)

    async def arows(self, *, idle: float = 1.0) -> AsyncIterator[PushRow | None]:
        """``rows()`` for an event loop: yields rows, and None after ``idle`` seconds without
        one (a caller may send a keep-alive); never blocks the loop."""
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()

        def notify() -> None:
            try:
                loop.call_soon_threadsafe(wake.set)
            except RuntimeError:  # the loop is closed: nobody is reading any more
                pass

        with self._lock:
            self._listeners.append(notify)
        try:
            while True:
                wake.clear()
                ready, ended = self.take_ready()
                for row in ready:
                    yield row
                if ended:
                    return
                if not ready:
                    try:
                        await asyncio.wait_for(wake.wait(), timeout=idle)
                    except TimeoutError:
                        yield None
        finally:
            with self._lock:
                self._listeners.remove(notify)

    # --- lifecycle -----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return not self._done.is_set()

    def close(self, *, wait: bool = True) -> None:
        """Stop the query and (``wait``) wait for its thread to close its consumer and end; safe
        to call twice and from any thread. An event loop passes ``wait=False``: the thread
        ends by itself within ``POLL_TIMEOUT_S`` and a consumer close."""
        self._stop.set()
        thread = self._thread
        if wait and thread is not None and thread is not threading.current_thread():
            thread.join(JOIN_TIMEOUT_S)
        _registry_remove(self)

    def _push(self, item: Any) -> None:
        self._items.put(item)
        with self._lock:
            listeners = list(self._listeners)
        for notify in listeners:
            notify()

    def _finish(self, reason: str, error: str | None = None) -> None:
        if self.end_reason is None:
            self.end_reason = reason
            self.error = error
        self._done.set()
        self._push(_END)

    def _run(self, tail: Any, driver: Any, sink_topic: str) -> None:
        output = self.translation.output
        try:
            while not self._stop.is_set():
                records = tail.poll(POLL_TIMEOUT_S)
                for record in records:
                    topic, _partition, _offset, timestamp, key, value = record[:6]
                    try:
                        driver.pipe_input(topic, key, value, timestamp=timestamp, partition=0)
                    except (serde.SerdeError, TypeError, ValueError) as exc:
                        self._dead_letter(f"{topic}: {exc}")
                    for failed in driver.dlq():
                        headers = {name: raw.decode(errors="replace") for name, raw in failed.headers or []}
                        self._dead_letter(
                            f"{headers.get('weir.error.node_id', '?')}: "
                            f"{headers.get('weir.error.class', 'error')}: {headers.get('weir.error.message', '')}"
                        )
                    for out_key, out_value, _ in driver.read_output(sink_topic):
                        row = PushRow(row_columns(output, out_key, out_value))
                        row.tombstone = out_value is None
                        self.emitted += 1
                        self._push(row)
                        if self.limit is not None and self.emitted >= self.limit:
                            self._finish(LIMIT_REACHED)
                            return
                        if self._items.qsize() > MAX_QUEUED_ROWS:
                            raise PushQueryError(
                                f"the client fell {MAX_QUEUED_ROWS} rows behind; the query was stopped"
                            )
                    if self._stop.is_set():
                        break
            self._finish(QUERY_CLOSED)
        except Exception as exc:  # noqa: BLE001 - the reader gets the error as the query's end
            log.warning("push query %s failed", self.query_id, exc_info=True)
            self._finish(str(exc), error=str(exc))
        finally:
            try:
                tail.close()
            finally:
                driver.close()
                _registry_remove(self)

    def _dead_letter(self, message: str) -> None:
        self.dead_letters += 1
        self.dead_letter_messages.append(message)


# --- the registry ------------------------------------------------------------------------------

_registry: dict[str, PushQuery] = {}
_registry_lock = threading.Lock()


def _registry_remove(query: PushQuery) -> None:
    with _registry_lock:
        if _registry.get(query.query_id) is query:
            del _registry[query.query_id]


def running_queries() -> list[PushQuery]:
    with _registry_lock:
        return list(_registry.values())


def close_query(query_id: str) -> bool:
    """Close the running query ``query_id``; False when there is none by that id."""
    with _registry_lock:
        query = _registry.get(query_id)
    if query is None:
        return False
    query.close()
    return True


# --- starting ----------------------------------------------------------------------------------


def offset_reset_of(properties: Mapping[str, Any], default: str = "latest") -> str:
    """Where a push query starts: ``auto.offset.reset`` of the request's properties, else latest."""
    for name in PROPERTY_OFFSET_RESET:
        value = properties.get(name)
        if value is not None:
            text = str(value).strip().lower()
            if text not in ("earliest", "latest"):
                raise PushQueryError(f"property {name} is 'earliest' or 'latest', not {value!r}")
            return text
    return default


def new_query_id(output: SourceDef | str) -> str:
    """ksqlDB's id of a transient query: ``transient_<SOURCE>_<digits>``."""
    name = output.name if isinstance(output, SourceDef) else output
    return f"transient_{name}_{random.randrange(10**18, 10**19)}"


def virtual_topic(query_id: str) -> str:
    """The topic a push query's document sinks to: in memory only, never created."""
    return f"_weir_push_{query_id}"


def start_push_query(
    translation: Translation,
    *,
    limit: int | None,
    properties: Mapping[str, str],
    query_id: str | None = None,
) -> PushQuery:
    """Compile ``translation.document``, open the tail of its source topics and start its thread.

    Raises PushQueryError (the document does not compile, a topic is missing, Kafka is down)
    before anything runs. ``query_id`` is the one the translation's virtual topic was named
    after (``virtual_topic``), or a new one."""
    from processing.runtime.kafka.transient import TailError, open_tail
    from processing.runtime.testing import TopologyTestDriver

    result = compiler.compile_document(translation.document)
    if not result.ok or result.plan is None:
        problems = "; ".join(f"{i.node_id or '-'}: {i.message}" for i in result.errors)
        raise PushQueryError(f"the push query's topology does not compile: {problems or 'no plan'}")
    plan = result.plan
    sinks = [n for n in translation.document.get("nodes", []) if n.get("id") == translation.sink_node]
    if not sinks:
        raise PushQueryError(f"the push query's topology has no sink node {translation.sink_node!r}")
    sink_topic = (sinks[0].get("config") or {}).get("topic")
    topics = [
        topic
        for op in plan.operators()
        if isinstance(op, Source) and op.repartition is None
        for topic in op.topics
    ]
    query_id = query_id or new_query_id(translation.output)
    offset_reset = offset_reset_of(properties, translation.offset_reset)
    try:
        tail = open_tail(
            settings.KAFKA_CLIENT_CONFIG, topics, offset_reset=offset_reset, client_id=f"weir-{query_id}"
        )
    except TailError as exc:
        raise PushQueryError(str(exc)) from None
    query = PushQuery(translation, query_id=query_id, limit=limit)
    try:
        driver = TopologyTestDriver(plan, app_id=query_id, error_policy="dlq")
    except BaseException:
        tail.close()
        raise
    if limit is not None and limit <= 0:
        tail.close()
        driver.close()
        query._finish(LIMIT_REACHED)
        return query
    with _registry_lock:
        _registry[query_id] = query
    thread = threading.Thread(
        target=query._run, args=(tail, driver, sink_topic), name=f"push-{query_id}", daemon=True
    )
    query._thread = thread
    thread.start()
    return query


# --- the catalog seam --------------------------------------------------------------------------


def catalog_for(user: Any) -> Catalog:
    """The catalog of sources ``user``'s statements see (the statement engine's, the one
    visibility rule): the one place the REST endpoints look sources up."""
    from processing.sqlengine.catalog import UserCatalog

    return UserCatalog(user)
