"""Record-at-a-time operators without state, plus the edges of a sub-topology (source, sink,
repartition, view) and the stream/table conversions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from processing.runtime import serde
from processing.runtime.operators.base import Node, NodeError, Push, TaskContext, compile_sql
from processing.runtime.records import OutputRecord
from processing.runtime.serde import SerdeError, hashable_key, key_from_hashable
from processing.runtime.state.base import StateStore

# Kafka's default max.message.bytes is ~1 MiB: a bigger record could not be produced anyway,
# so it is refused at the source (or at the sink) and handled by the error policy.
MAX_RECORD_BYTES = 1024 * 1024

_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError
_orjson_dumps = orjson.dumps
_new_output = tuple.__new__  # OutputRecord's generated __new__ is a Python frame; this is not


def _event_time(value: Any) -> int:
    cls = value.__class__
    if cls is int:
        return value
    if cls is float:
        return int(value)
    if cls is str:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"event time {value!r} is not an ISO-8601 timestamp") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return int(parsed.timestamp() * 1000)
    raise ValueError(f"event time must be epoch milliseconds or ISO-8601 text, got {value!r}")


class SourceNode(Node):
    def __init__(self, op: Any, ctx: TaskContext) -> None:
        super().__init__(op, ctx)
        internal = op.repartition is not None
        key_format = "json" if internal else op.key_format
        value_format = "json" if internal else op.value_format
        self.decode_key = serde.decoder(key_format)
        self.decode_value = serde.decoder(value_format)
        # The two common formats are decoded inline: one Python call less per record.
        self.string_keys = key_format == "string"
        self.json_values = value_format == "json"
        self.timestamp_fn = compile_sql(op.timestamp, op.node_id) if op.timestamp else None

    def bind(self, emit: Push) -> None:
        self.emit = emit
        node, ctx, node_id = self, self.ctx, self.node_id
        decode_key, decode_value = self.decode_key, self.decode_value
        string_keys, json_values, timestamp_fn = self.string_keys, self.json_values, self.timestamp_fn
        partition = ctx.partition

        def receive(raw_key: bytes | None, raw_value: bytes | None, timestamp: int) -> None:
            """Decode one input record and push it downstream. Raises NodeError on bad data."""
            node.n_in += 1
            try:
                if raw_value is None:
                    value = None
                elif len(raw_value) > MAX_RECORD_BYTES:
                    raise SerdeError(
                        f"value of {len(raw_value)} bytes exceeds the limit of {MAX_RECORD_BYTES}"
                    )
                elif json_values:
                    value = _loads(raw_value)
                else:
                    value = decode_value(raw_value)
                if raw_key is None:
                    key = None
                elif string_keys:
                    key = raw_key.decode()
                else:
                    key = decode_key(raw_key)
            except SerdeError as exc:
                raise NodeError(node_id, exc, "DeserializationError") from None
            except _JSONDecodeError as exc:
                raise NodeError(node_id, f"invalid JSON: {exc}", "DeserializationError") from None
            except UnicodeDecodeError as exc:
                raise NodeError(
                    node_id, f"invalid UTF-8 at byte {exc.start}", "DeserializationError"
                ) from None
            if timestamp_fn is not None:
                try:
                    timestamp = _event_time(timestamp_fn(value, key, timestamp, partition, ctx.offset))
                except Exception as exc:
                    raise NodeError(node_id, exc) from None
            if timestamp > ctx.stream_time:
                ctx.stream_time = timestamp
            node.n_out += 1
            emit(key, value, timestamp)

        self.receive = receive


class FilterNode(Node):
    def __init__(self, op: Any, ctx: TaskContext) -> None:
        super().__init__(op, ctx)
        self.predicate = compile_sql(op.predicate, op.node_id)

    def bind(self, emit: Push) -> None:
        self.emit = emit
        node, ctx, node_id, predicate, is_table = self, self.ctx, self.node_id, self.predicate, self.is_table
        partition = ctx.partition

        def push(key: Any, value: Any, timestamp: int) -> None:
            if value is None and is_table:
                node.n_out += 1
                emit(key, None, timestamp)
                return
            try:
                keep = predicate(value, key, timestamp, partition, ctx.offset)
            except Exception as exc:
                raise NodeError(node_id, exc) from None
            if keep:
                node.n_out += 1
                emit(key, value, timestamp)
            elif is_table:
                # A table row that stops matching leaves the filtered table (KTable.filter).
                node.n_out += 1
                emit(key, None, timestamp)

        self.push = push  # type: ignore[method-assign]


class ProjectNode(Node):
    def __init__(self, op: Any, ctx: TaskContext) -> None:
        super().__init__(op, ctx)
        self.keep_all = op.keep_all
        self.drop = tuple(op.drop)
        self.setters = tuple((f.name, compile_sql(f.expression, op.node_id)) for f in op.set)

    def bind(self, emit: Push) -> None:
        self.emit = emit
        node, ctx, node_id, is_table = self, self.ctx, self.node_id, self.is_table
        keep_all, drop, setters = self.keep_all, self.drop, self.setters
        partition = ctx.partition

        def push(key: Any, value: Any, timestamp: int) -> None:
            if value is None and is_table:
                node.n_out += 1
                emit(key, None, timestamp)
                return
            if keep_all and value.__class__ is dict:
                out = dict(value)
                for name in drop:
                    out.pop(name, None)
            else:
                out = {}
            offset = ctx.offset
            try:
                for name, fn in setters:
                    out[name] = fn(value, key, timestamp, partition, offset)
            except Exception as exc:
                raise NodeError(node_id, exc) from None
            node.n_out += 1
            emit(key, out, timestamp)

        self.push = push  # type: ignore[method-assign]


class FlatMapNode(Node):
    def __init__(self, op: Any, ctx: TaskContext) -> None:
        super().__init__(op, ctx)
        self.path = tuple(op.field.split("."))
        self.as_name = op.as_name or self.path[-1]

    def push(self, key: Any, value: Any, timestamp: int) -> None:
        items: Any = value
        for part in self.path:
            items = items.get(part) if items.__class__ is dict else None
        if items is None:
            return
        if items.__class__ is not list:
            raise NodeError(self.node_id, f"field {'.'.join(self.path)!r} is not an array", "TypeError")
        base = value if value.__class__ is dict else {}
        name = self.as_name
        emit = self.emit
        for item in items:
            out = dict(base)
            out[name] = item
            self.n_out += 1
            emit(key, out, timestamp)


class SelectKeyNode(Node):
    """Sets the key; a composite key is ``{name: value}`` of the key fields, or None (the
    record is then dropped at the repartition) when any of them is null, as ksqlDB excludes
    rows whose GROUP BY columns resolve to null."""

    def __init__(self, op: Any, ctx: TaskContext) -> None:
        super().__init__(op, ctx)
        self.key_fn = None if op.key == "ROWKEY" or op.keys else compile_sql(op.key, op.node_id)
        self.key_fns = tuple((f.name, compile_sql(f.expression, op.node_id)) for f in op.keys)

    def bind(self, emit: Push) -> None:
        self.emit = emit
        node, ctx, node_id, key_fn = self, self.ctx, self.node_id, self.key_fn
        partition = ctx.partition
        if self.key_fns:
            self.push = self._composite(emit)  # type: ignore[method-assign,assignment]
            return

        def push(key: Any, value: Any, timestamp: int) -> None:
            if key_fn is not None:
                try:
                    key = key_fn(value, key, timestamp, partition, ctx.offset)
                except Exception as exc:
                    raise NodeError(node_id, exc) from None
            node.n_out += 1
            emit(key, value, timestamp)

        self.push = push  # type: ignore[method-assign]

    def _composite(self, emit: Push) -> Push:
        node, ctx, node_id = self, self.ctx, self.node_id
        composite_key = composite_key_function(self.key_fns)
        partition = ctx.partition

        def push(key: Any, value: Any, timestamp: int) -> None:
            try:
                composite = composite_key(value, key, timestamp, partition, ctx.offset)
            except Exception as exc:
                raise NodeError(node_id, exc) from None
            node.n_out += 1
            emit(composite, value, timestamp)

        return push


def composite_key_function(key_fns: tuple[tuple[str, Any], ...]) -> Any:
    """``(value, key, ts, partition, offset) -> {name: part}``, or None when a part is null."""

    def composite_key(value: Any, key: Any, timestamp: int, partition: int, offset: int) -> Any:
        composite: dict[str, Any] = {}
        for name, fn in key_fns:
            part = fn(value, key, timestamp, partition, offset)
            if part is None:
                return None
            composite[name] = part
        return composite

    return composite_key


def key_function(op: Any) -> Any:
    """The new key of a ``SelectKey`` or ``GroupTable`` as ``(value, key, ts, partition,
    offset) -> key``: ``ROWKEY`` keeps the key, ``keys`` makes a composite one."""
    if op.keys:
        return composite_key_function(tuple((f.name, compile_sql(f.expression, op.node_id)) for f in op.keys))
    if op.key == "ROWKEY":
        return lambda value, key, timestamp, partition, offset: key
    fn: Any = compile_sql(op.key, op.node_id)
    return fn


class RepartitionNode(Node):
    """Writes to the internal topic; the sub-topology that reads it continues from there.

    Keys and values are JSON on internal topics (canonical keys, so one key has one partition).
    """

    def __init__(self, op: Any, ctx: TaskContext, topic: str) -> None:
        super().__init__(op, ctx)
        self.topic = topic  # the bound plan's name for the repartition

    def push(self, key: Any, value: Any, timestamp: int) -> None:
        if key is None:
            # Like Kafka Streams' groupBy: a record without a key has no group and no partition.
            return
        try:
            raw_key = serde.canonical_json(serde.key_to_json(key))
            raw_value = None if value is None else serde.dumps(value)
        except TypeError as exc:
            raise NodeError(self.node_id, exc, "SerializationError") from None
        self.n_out += 1
        self.ctx.emit_output(OutputRecord(self.topic, raw_key, raw_value, timestamp, None, None))


class SinkNode(Node):
    """Encodes records and appends them to the task's output.

    A sink fed by a table under ``ctx.cache_tables`` keeps the latest record per key until
    ``flush`` (the commit): Kafka Streams' record cache in front of ``KTable.toStream().to()``.
    A table's changelog only promises the latest value per key, so a consumer of the topic sees
    the same table with one record per key per commit interval instead of one per update.
    Entries are encoded when flushed, each with the input record that produced it, so a value
    that cannot be written is reported as that record (Kafka Streams keeps the record context
    with each cache entry for the same reason).
    """

    # Past this many keys a cache is flushed after the batch: memory stays bounded whatever
    # the key space.
    CACHE_MAX_KEYS = 100_000

    def __init__(self, op: Any, ctx: TaskContext) -> None:
        super().__init__(op, ctx)
        self.topic = op.topic
        self.encode_key = serde.key_encoder(op.key_format)
        self.encode_value = serde.value_encoder(op.value_format)
        self.string_keys = op.key_format == "string"
        self.json_values = op.value_format == "json"
        self.append = ctx.emit_output
        self.fed_by_table = False  # set by the builder
        self.cache: dict[Any, tuple[Any, Any, int, Any]] | None = None

    def bind(self, emit: Push) -> None:
        # A sink has no downstream operator: it appends to the task's output.
        self.emit = emit
        node, node_id, topic, append, ctx = self, self.node_id, self.topic, self.ctx.emit_output, self.ctx
        encode_key, encode_value = self.encode_key, self.encode_value
        string_keys, json_values = self.string_keys, self.json_values

        def encode(key: Any, value: Any, timestamp: int) -> OutputRecord:
            raw_key: bytes | None
            raw_value: bytes | None
            try:
                if string_keys and key.__class__ is str:
                    raw_key = key.encode()
                else:
                    raw_key = encode_key(key)
                if value is None:
                    raw_value = None
                elif json_values:
                    raw_value = _orjson_dumps(value).decode().encode()  # why: see serde.dumps
                else:
                    raw_value = encode_value(value)
            except (SerdeError, TypeError) as exc:
                raise NodeError(node_id, exc, "SerializationError") from None
            if raw_value is not None and len(raw_value) > MAX_RECORD_BYTES:
                raise NodeError(
                    node_id,
                    f"output value of {len(raw_value)} bytes exceeds {MAX_RECORD_BYTES}",
                    "RecordTooLarge",
                )
            return _new_output(OutputRecord, (topic, raw_key, raw_value, timestamp, None, None))

        self.encode = encode
        if not (self.fed_by_table and ctx.cache_tables):

            def push(key: Any, value: Any, timestamp: int) -> None:
                append(encode(key, value, timestamp))
                node.n_out += 1

            self.push = push  # type: ignore[method-assign]
            return

        cache = self.cache = {}

        def push_cached(key: Any, value: Any, timestamp: int) -> None:
            if key is None:
                # No key, no coalescing: written at once (a table row has a key anyway).
                append(encode(key, value, timestamp))
                node.n_out += 1
                return
            # Values are never changed in place once emitted, so holding them is safe.
            cache[key if key.__class__ is str else hashable_key(key)] = (key, value, timestamp, ctx.record)

        self.push = push_cached  # type: ignore[method-assign]

    def flush(self, on_error: Any) -> None:
        """Encode and append the cached latest record of every key (first-update order).
        ``on_error(input_record, NodeError)`` handles a value that cannot be written."""
        cache = self.cache
        if not cache:
            return
        entries = list(cache.values())
        cache.clear()
        append, encode = self.ctx.emit_output, self.encode
        written = 0
        for key, value, timestamp, record in entries:
            try:
                append(encode(key, value, timestamp))
                written += 1
            except NodeError as exc:
                on_error(record, exc)
        self.n_out += written


class ViewNode(Node):
    """Latest value per key since the last take (None = the key was deleted)."""

    def __init__(self, op: Any, ctx: TaskContext) -> None:
        super().__init__(op, ctx)
        self.deltas: dict[Any, Any] = {}

    def push(self, key: Any, value: Any, timestamp: int) -> None:
        if key is None:
            return
        self.deltas[hashable_key(key)] = value

    def take(self) -> dict[Any, Any]:
        deltas = self.deltas
        self.deltas = {}
        return deltas


class ToTableNode(Node):
    is_table = True

    def __init__(self, op: Any, ctx: TaskContext, store: StateStore) -> None:
        super().__init__(op, ctx)
        self.store = store
        self.stores = [store]

    def push(self, key: Any, value: Any, timestamp: int) -> None:
        if key is None:
            return  # a table row needs a key (Kafka Streams drops it too)
        hkey = hashable_key(key)
        if value is None:
            self.store.delete(hkey, timestamp)
        else:
            self.store.put(hkey, value, timestamp)
        self.n_out += 1
        self.emit(key, value, timestamp)

    def lookup(self, key: Any) -> Any:
        return self.store.data.get(hashable_key(key))


class ToStreamNode(Node):
    def push(self, key: Any, value: Any, timestamp: int) -> None:
        self.n_out += 1
        self.emit(key, value, timestamp)


class TapNode:
    """Records what an operator emits (the test driver and the editor's preview)."""

    def __init__(self, sink: list[tuple[Any, Any, int]]) -> None:
        self.sink = sink
        self.emit: Any = None

    def push(self, key: Any, value: Any, timestamp: int) -> None:
        self.sink.append((key, value, timestamp))
        self.emit(key, value, timestamp)


__all__ = [
    "MAX_RECORD_BYTES",
    "FilterNode",
    "FlatMapNode",
    "ProjectNode",
    "RepartitionNode",
    "SelectKeyNode",
    "SinkNode",
    "SourceNode",
    "TapNode",
    "ToStreamNode",
    "ToTableNode",
    "ViewNode",
    "key_from_hashable",
]
