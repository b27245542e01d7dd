"""Preview: run a draft document on a few records and return each node's output.

Nothing is deployed and nothing is written to Kafka: the compiled plan runs in the runtime's
broker-free test driver (like Kafka Streams' TopologyTestDriver). Records come from the user
(pasted JSON) or from the tail of the source topic, read without joining a consumer group.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from django.conf import settings

from processing.runtime import serde
from topology import compiler

MAX_PREVIEW_RECORDS = 1000
MAX_OUTPUT_PER_NODE = 500
# One pasted record, JSON-encoded. A preview is for looking at a few records by eye; bigger
# ones only make the request thread (and the answer) heavy.
MAX_RECORD_BYTES = 64 * 1024
# A preview runs in the web request: a draft that multiplies records (flat_map, joins) must
# not hold a server thread for long. settings.WEIR_PREVIEW_TIME_LIMIT_SECONDS overrides.
PREVIEW_TIME_LIMIT_SECONDS = 5.0
SOURCE_TYPES = ("source", "table_source")
RECORD_FIELDS = {"key", "value", "timestamp", "headers", "partition"}


class PreviewError(ValueError):
    """Bad preview input; ``field`` names the request field, the message says what to fix."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def source_topic(node: dict[str, Any]) -> str | None:
    config = node.get("config") or {}
    topics = config.get("topics") or ([config["topic"]] if config.get("topic") else [])
    return topics[0] if topics else None


def _source_node(document: dict[str, Any], source_id: str | None) -> dict[str, Any]:
    sources = [n for n in document.get("nodes", []) if isinstance(n, dict) and n.get("type") in SOURCE_TYPES]
    if not sources:
        raise PreviewError("the document has no source node to feed records into", "source")
    if source_id is None:
        return sources[0]
    for node in sources:
        if node.get("id") == source_id:
            return node
    raise PreviewError(f"{source_id!r} is not a source node of this document", "source")


def _pasted_records(records: list[Any]) -> list[tuple[Any, Any, int]]:
    now = int(time.time() * 1000)
    rows = []
    for index, item in enumerate(records):
        size = len(json.dumps(item, separators=(",", ":")))
        if size > MAX_RECORD_BYTES:
            raise PreviewError(
                f"record {index} is {size} bytes of JSON; a preview record may be at most {MAX_RECORD_BYTES}",
                f"records.{index}",
            )
        wrapped = isinstance(item, dict) and "value" in item and set(item) <= RECORD_FIELDS
        key = item.get("key") if wrapped else None
        value = item["value"] if wrapped else item
        timestamp = item.get("timestamp", now + index) if wrapped else now + index
        if not isinstance(timestamp, int) or isinstance(timestamp, bool):
            raise PreviewError(
                f"record {index}: timestamp must be epoch milliseconds (an integer)",
                f"records.{index}.timestamp",
            )
        rows.append((key, value, timestamp))
    return rows


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        try:
            return json.loads(value)
        except ValueError:
            try:
                return value.decode()
            except UnicodeDecodeError:
                return {"base64": base64.b64encode(value).decode()}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _output_record(record: Any) -> dict[str, Any]:
    if isinstance(record, dict):
        return {
            "key": _jsonable(record.get("key")),
            "value": _jsonable(record.get("value")),
            "timestamp": record.get("timestamp"),
        }
    if hasattr(record, "value"):
        return {
            "key": _jsonable(getattr(record, "key", None)),
            "value": _jsonable(record.value),
            "timestamp": getattr(record, "timestamp", None),
        }
    if isinstance(record, (tuple, list)) and len(record) >= 2:
        return {
            "key": _jsonable(record[0]),
            "value": _jsonable(record[1]),
            "timestamp": record[2] if len(record) > 2 else None,
        }
    return {"key": None, "value": _jsonable(record), "timestamp": None}


def _drive(
    plan: Any, topic: str, node_ids: list[tuple[str, str | None, bool]], rows: list[tuple[Any, Any, int]]
) -> tuple[dict[str, list], list[dict]]:
    from processing.runtime.testing import TopologyTestDriver

    # "dlq" keeps going past a bad record and says which node failed and why, which is what
    # a preview should show; nothing is written anywhere.
    driver = TopologyTestDriver(plan, app_id="preview", error_policy="dlq")
    errors: list[dict[str, Any]] = []
    limit = getattr(settings, "WEIR_PREVIEW_TIME_LIMIT_SECONDS", PREVIEW_TIME_LIMIT_SECONDS)
    deadline = time.monotonic() + limit
    for index, (key, value, timestamp) in enumerate(rows):
        if index and time.monotonic() > deadline:
            driver.close()
            raise PreviewError(
                f"the preview ran longer than {limit:g} s and stopped at record {index} of {len(rows)}; "
                "preview fewer records",
                "records",
            )
        try:
            driver.pipe_input(topic, key, value, timestamp=timestamp)
        except (serde.SerdeError, TypeError, ValueError) as exc:
            errors.append({"node_id": None, "record": index, "message": f"record {index}: {exc}"})
    for failed in driver.dlq():
        headers = {name: raw.decode(errors="replace") for name, raw in failed.headers or []}
        errors.append(
            {
                "node_id": headers.get("weir.error.node_id"),
                "message": f"{headers.get('weir.error.class', 'error')}: {headers.get('weir.error.message', '')}",
            }
        )
    outputs = {}
    for node_id, sink_topic, is_view in node_ids:
        produced = driver.node_outputs(node_id)
        if not produced and sink_topic:
            # A sink emits nothing downstream; show what it would write to its topic.
            produced = driver.read_output(sink_topic)
        if not produced and is_view:
            # A view is a table: show its rows as the dashboard would (latest value per key).
            produced = [(key, value, None) for key, value in driver.table(node_id).items()]
        outputs[node_id] = [_output_record(r) for r in produced[:MAX_OUTPUT_PER_NODE]]
    driver.close()
    return outputs, errors


def run_preview(
    document: dict[str, Any], *, source: str | None, records: list[Any] | None, sample: int | None
) -> dict[str, Any]:
    result = compiler.compile_document(document)
    if not result.ok:
        return {"ok": False, "issues": [i.to_dict() for i in result.issues], "outputs": {}, "errors": []}
    node = _source_node(document, source)
    topic = source_topic(node)
    if topic is None:
        raise PreviewError(f"source {node.get('id')!r} names no topic", "source")
    if sample is not None:
        from processing.runtime.kafka.sample import TopicSampleError, sample_topic

        try:
            rows = [
                (r.key, r.value, r.timestamp)
                for r in sample_topic(settings.KAFKA_CLIENT_CONFIG, topic, sample)
            ]
        except TopicSampleError as exc:
            raise PreviewError(str(exc), "sample") from None
    else:
        if records is None:
            raise PreviewError("give either records or sample", "records")
        if len(records) > MAX_PREVIEW_RECORDS:
            raise PreviewError(f"at most {MAX_PREVIEW_RECORDS} records per preview", "records")
        rows = _pasted_records(records)
    node_ids = [
        (
            n["id"],
            (n.get("config") or {}).get("topic") if n.get("type") == "sink" else None,
            n.get("type") == "view",
        )
        for n in document.get("nodes", [])
        if isinstance(n, dict) and "id" in n
    ]
    outputs, errors = _drive(result.plan, topic, node_ids, rows)
    return {
        "ok": True,
        "issues": [i.to_dict() for i in result.issues],
        "outputs": outputs,
        "errors": errors,
        "input_count": len(rows),
    }


def describe_with_partitions(document: dict[str, Any]) -> dict[str, Any]:
    """describe() with the source topics' partition counts read from Kafka (when reachable)."""
    result = compiler.compile_document(document)
    if not result.ok:
        return {
            "ok": False,
            "describe": None,
            "partitions": None,
            "issues": [i.to_dict() for i in result.issues],
        }
    topics = {
        t
        for n in document.get("nodes", [])
        if isinstance(n, dict) and n.get("type") in SOURCE_TYPES
        for t in ((n.get("config") or {}).get("topics") or [(n.get("config") or {}).get("topic")])
        if t
    }
    partitions: dict[str, int] | None
    note = ""
    try:
        from processing.runtime.kafka.admin import topic_partitions

        partitions = topic_partitions(settings.KAFKA_CLIENT_CONFIG, sorted(topics), timeout=3.0)
    except Exception as exc:  # noqa: BLE001 - describe still helps without partition counts
        partitions, note = None, f"partition counts unavailable: {exc}"
    return {
        "ok": True,
        "describe": compiler.describe(result.plan, partitions or None),
        "partitions": partitions,
        "note": note,
        "issues": [],
    }
