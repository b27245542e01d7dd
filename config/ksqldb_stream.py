"""``/ksqldb/`` streaming endpoints: ``/query``, ``/query-stream``, ``/close-query``, ``/inserts-stream``.

Authentication, negotiation and ksqlDB's error shapes are config/ksqldb.py's (``endpoint``,
``respond``, ``error``); the queries run in processing/push.py (push), processing/pull.py
(pull) and processing/inserts.py. Sources come from ``processing.push.catalog_for(user)``.

Framing, as ksqlDB 0.29 writes it:

- ``/query`` (v1, chunked): a JSON array written as it goes, one element a line:
  ``[{"header":{"queryId":..,"schema":..}},`` then ``{"row":{"columns":[..]}},`` per row, then
  ``{"finalMessage":"Limit Reached"}]`` (or ``{"errorMessage":{..}}]``). A line holding only
  ``\\n`` is sent after a second without rows, as ksqlDB's keep-alive: it is how a server
  behind WSGI notices a client that has gone.
- ``/query-stream``: ``application/vnd.ksqlapi.delimited.v1`` (the default) is a header line
  ``{"queryId","columnNames","columnTypes"}`` then one JSON array per row; ``application/json``
  is the same as one JSON array.
- ``/inserts-stream``: the body is a line ``{"target": name}`` then one JSON object per line;
  the answer is one ack line per record, ``{"status":"ok","seq":n}``, or an error line
  (``{"status":"error","seq":n,"error_code":..,"message":..}``) after which nothing more is
  written, as in ksqlDB.

Whoever stops reading closes the query: the response's generator closes it in ``finally``
(WSGI closes the iterator; under ASGI Django cancels the response on ``http.disconnect``).
Under ASGI the rows come from an async iterator: Django would read a sync one to its end
before sending anything, which for an unbounded push query is never.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import path

from config.ksqldb import endpoint, error, respond
from processing import inserts, push
from processing.ksqldb import ErrorCode, generic_error, request_media_type_accepted
from processing.runtime.kafka.transient import TailError
from processing.selects import Started, StatementRefused, start_statement

DELIMITED = "application/vnd.ksqlapi.delimited.v1"
JSON = "application/json"
# After this long without a row, /query writes a keep-alive newline.
KEEPALIVE_S = 1.0


# --- request bodies ----------------------------------------------------------------------------


def _json_body(request: HttpRequest) -> dict[str, Any] | HttpResponse:
    if not request_media_type_accepted(request.content_type) and request.content_type not in (DELIMITED,):
        return error(
            request, f"The body must be JSON, not {request.content_type}.", ErrorCode.UNSUPPORTED_MEDIA_TYPE
        )
    try:
        payload = json.loads(request.body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return error(request, f"Malformed JSON body: {exc}.", ErrorCode.BAD_REQUEST)
    if not isinstance(payload, dict):
        return error(request, "The body must be a JSON object.", ErrorCode.BAD_REQUEST)
    return payload


def _properties(payload: dict[str, Any], name: str) -> dict[str, Any] | None:
    value = payload.get(name)
    if value is None:
        return {}
    return value if isinstance(value, dict) else None


# --- framing -----------------------------------------------------------------------------------


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class V1Framing:
    """``/query``: one JSON array, an element a line."""

    content_type = "application/vnd.ksql.v1+json"
    keepalive = "\n"

    def header(self, started: Started) -> str:
        return "[" + _dumps({"header": {"queryId": started.query_id, "schema": started.schema}})

    def row(self, row: list[Any]) -> str:
        body: dict[str, Any] = {"columns": list(row)}
        if getattr(row, "tombstone", False):
            body["tombstone"] = True
        return ",\n" + _dumps({"row": body})

    def end(self, query: push.PushQuery | None) -> str:
        if query is None:
            return "]\n"
        if query.error is not None:
            return (
                ",\n" + _dumps({"errorMessage": generic_error(query.error, ErrorCode.SERVER_ERROR)}) + "]\n"
            )
        return ",\n" + _dumps({"finalMessage": query.end_reason or push.QUERY_CLOSED}) + "]\n"


class DelimitedFraming:
    """``/query-stream`` as ``application/vnd.ksqlapi.delimited.v1``."""

    content_type = DELIMITED
    keepalive = ""

    def header(self, started: Started) -> str:
        return _dumps(_stream_header(started)) + "\n"

    def row(self, row: list[Any]) -> str:
        return _dumps(list(row)) + "\n"

    def end(self, query: push.PushQuery | None) -> str:
        if query is not None and query.error is not None:
            return _dumps(generic_error(query.error, ErrorCode.SERVER_ERROR)) + "\n"
        return ""


class JsonArrayFraming(DelimitedFraming):
    """``/query-stream`` as ``application/json``: the header and the rows as one array."""

    content_type = JSON

    def header(self, started: Started) -> str:
        return "[" + _dumps(_stream_header(started))

    def row(self, row: list[Any]) -> str:
        return "," + _dumps(list(row))

    def end(self, query: push.PushQuery | None) -> str:
        if query is not None and query.error is not None:
            return "," + _dumps(generic_error(query.error, ErrorCode.SERVER_ERROR)) + "]"
        return "]"


def _stream_header(started: Started) -> dict[str, Any]:
    return {
        "queryId": started.query_id,
        "columnNames": [c.name for c in started.columns],
        "columnTypes": [c.type for c in started.columns],
    }


def _sync_stream(started: Started, framing: Any) -> Iterator[str]:
    query = started.push
    try:
        yield framing.header(started)
        if query is None:
            for row in started.rows:
                yield framing.row(row)
        else:
            while True:
                ready, ended = query.take_ready(timeout=KEEPALIVE_S)
                for row in ready:
                    yield framing.row(row)
                if ended:
                    break
                if not ready and framing.keepalive:
                    yield framing.keepalive
        yield framing.end(query)
    finally:
        if query is not None:
            query.close()


async def _async_stream(started: Started, framing: Any) -> AsyncIterator[str]:
    query = started.push
    try:
        yield framing.header(started)
        if query is None:
            for row in started.rows:
                yield framing.row(row)
        else:
            async for row in query.arows(idle=KEEPALIVE_S):
                if row is not None:
                    yield framing.row(row)
                elif framing.keepalive:
                    yield framing.keepalive
        yield framing.end(query)
    finally:
        if query is not None:
            query.close(wait=False)


def _stream(request: HttpRequest, started: Started, framing: Any) -> StreamingHttpResponse:
    content = (
        _async_stream(started, framing)
        if isinstance(request, ASGIRequest)
        else _sync_stream(started, framing)
    )
    response = StreamingHttpResponse(content, content_type=framing.content_type)
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # a proxy in front must not hold rows back
    return response


def _refused(request: HttpRequest, refusal: StatementRefused) -> HttpResponse:
    return respond(request, refusal.body, status=refusal.code.http_status)


# --- views -------------------------------------------------------------------------------------


def _start(request: HttpRequest, text_field: str, properties_field: str) -> Started | HttpResponse:
    """Read a /query or /query-stream body (their field names differ) and start its query;
    an error response when the body or the statement is refused."""
    payload = _json_body(request)
    if isinstance(payload, HttpResponse):
        return payload
    properties = _properties(payload, properties_field)
    if not isinstance(payload.get(text_field), str) or properties is None:
        return error(
            request,
            f"The body needs '{text_field}' (a string) and optional '{properties_field}' (an object).",
            ErrorCode.BAD_REQUEST,
        )
    try:
        return start_statement(payload[text_field], properties, request.user)
    except StatementRefused as refusal:
        return _refused(request, refusal)


@endpoint("POST")
def query(request: HttpRequest) -> HttpResponse:
    started = _start(request, "ksql", "streamsProperties")
    if isinstance(started, HttpResponse):
        return started
    return _stream(request, started, V1Framing())


def stream_media_type(accept: str | None) -> str | None:
    """What ``/query-stream`` and ``/inserts-stream`` answer with: delimited unless JSON is asked."""
    if not accept or not accept.strip():
        return DELIMITED
    media = [part.split(";", 1)[0].strip().lower() for part in accept.split(",")]
    for item in media:
        if item == DELIMITED or item in ("*/*", "application/*"):
            return DELIMITED
        if item in (JSON, "application/vnd.ksql.v1+json"):
            return JSON
    return None


def delimited_endpoint(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """``endpoint("POST")`` for a view that answers in the streaming API's own media types:
    the Accept header is read here, and the errors of ``endpoint`` are sent as JSON."""
    wrapped = endpoint("POST")(view)

    def negotiate(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        media = stream_media_type(request.headers.get("Accept"))
        request.META["HTTP_ACCEPT"] = JSON
        if media is None:
            request.ksql_media_type = JSON  # type: ignore[attr-defined]
            return error(request, f"Accept must allow {DELIMITED} or {JSON}.", ErrorCode.NOT_ACCEPTABLE)
        request.stream_media_type = media  # type: ignore[attr-defined]
        return wrapped(request, *args, **kwargs)

    negotiate.csrf_exempt = True  # type: ignore[attr-defined]
    return negotiate


@delimited_endpoint
def query_stream(request: HttpRequest) -> HttpResponse:
    started = _start(request, "sql", "properties")
    if isinstance(started, HttpResponse):
        return started
    framing = DelimitedFraming() if request.stream_media_type == DELIMITED else JsonArrayFraming()  # type: ignore[attr-defined]
    return _stream(request, started, framing)


@endpoint("POST")
def close_query(request: HttpRequest) -> HttpResponse:
    payload = _json_body(request)
    if isinstance(payload, HttpResponse):
        return payload
    query_id = payload.get("queryId")
    if not isinstance(query_id, str) or not query_id:
        return error(request, "The body needs 'queryId' (a string).", ErrorCode.BAD_REQUEST)
    if not push.close_query(query_id):
        return error(request, f"No query with id {query_id} is running.", ErrorCode.BAD_REQUEST)
    return HttpResponse(status=200)


@delimited_endpoint
def inserts_stream(request: HttpRequest) -> HttpResponse:
    lines = [line for line in request.body.decode("utf-8", errors="replace").splitlines() if line.strip()]
    try:
        target = json.loads(lines[0]) if lines else None
    except json.JSONDecodeError as exc:
        return error(request, f"The first line is not JSON: {exc}.", ErrorCode.BAD_REQUEST)
    if not isinstance(target, dict) or not isinstance(target.get("target"), str):
        return error(request, 'The first line must be {"target": "<stream name>"}.', ErrorCode.BAD_REQUEST)
    name = target["target"]
    catalog = push.catalog_for(request.user)
    source = catalog.source(name) or catalog.source(name.upper())
    if source is None:
        return error(request, f"Cannot insert into an unknown stream or table: {name}", ErrorCode.BAD_REQUEST)
    acks = []
    for seq, line in enumerate(lines[1:]):
        ack = _insert_line(source, line, seq)
        acks.append(ack)
        if ack["status"] != "ok":
            break
    if request.stream_media_type == JSON:  # type: ignore[attr-defined]
        return HttpResponse(_dumps(acks), content_type=JSON)
    return HttpResponse("".join(_dumps(ack) + "\n" for ack in acks), content_type=DELIMITED)


def _insert_line(source: Any, line: str, seq: int) -> dict[str, Any]:
    try:
        row = json.loads(line)
        if not isinstance(row, dict):
            raise inserts.InsertError("a row is a JSON object {column: value}")
        names = []
        for given in row:
            column = source.column(given) or source.column(given.upper())
            names.append(column.name if column is not None else given)
        inserts.insert_values(source, names, list(row.values()))
    except (json.JSONDecodeError, inserts.InsertError) as exc:
        return {"status": "error", "seq": seq, "error_code": int(ErrorCode.BAD_REQUEST), "message": str(exc)}
    except TailError as exc:
        return {"status": "error", "seq": seq, "error_code": int(ErrorCode.SERVER_ERROR), "message": str(exc)}
    return {"status": "ok", "seq": seq}


urlpatterns = [
    path("query", query, name="ksqldb-query"),
    path("query-stream", query_stream, name="ksqldb-query-stream"),
    path("close-query", close_query, name="ksqldb-close-query"),
    path("inserts-stream", inserts_stream, name="ksqldb-inserts-stream"),
]
