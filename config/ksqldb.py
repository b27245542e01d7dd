"""``/ksqldb/``: the ksqlDB-compatible REST endpoints (a client's server URL is ``http://HOST:PORT/ksqldb``).

Thin views: authenticate (an API key over HTTP Basic, topology/apikeys.py) → negotiate the
content type → read the body into a typed request → call one function → serialise. The
shapes and the statement execution live in processing/ksqldb.py. The views sit in config/
because ``/healthcheck`` reads the stack's checks in dashboard/health.py, which processing
may not import (config > dashboard > processing > topology); config may import all three.

Every answer is JSON in ksqlDB's shapes, errors included (``generic_error`` /
``statement_error`` with ``error_code``), with the status ksqlDB gives them; none is a 500
for anything a client sends.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from pydantic import ValidationError

from dashboard import health
from processing import ksqldb
from processing.ksqldb import ErrorCode
from processing.runtime.kafka.admin import ClusterUnavailable, cluster_id
from topology.apikeys import CHALLENGE, InvalidApiKey, authenticate_request, cross_site_refusal

logger = logging.getLogger(__name__)

# The parts of the stack ksqlDB's healthcheck reports, by the names ksqlDB gives them: the
# metastore is Weir's database (the catalog of streams, tables and queries lives there).
HEALTH_PARTS = {"metastore": "database", "kafka": "kafka"}

View = Callable[..., HttpResponse]


def respond(request: HttpRequest, body: Any, status: int = 200) -> HttpResponse:
    media_type = getattr(request, "ksql_media_type", ksqldb.KSQL_V1_JSON)
    return HttpResponse(json.dumps(body), status=status, content_type=media_type)


def error(request: HttpRequest, message: str, code: ErrorCode) -> HttpResponse:
    return respond(request, ksqldb.generic_error(message, code), status=code.http_status)


def unauthorized(request: HttpRequest, message: str) -> HttpResponse:
    response = error(request, message, ErrorCode.UNAUTHORIZED)
    response["WWW-Authenticate"] = CHALLENGE
    return response


def endpoint(*methods: str, public: bool = False) -> Callable[[View], View]:
    """Method check, content negotiation, API-key authentication and the 5xx backstop."""

    def decorate(view: View) -> View:
        @csrf_exempt  # no session is read here: credentials come in the Authorization header
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            media_type = ksqldb.response_media_type(request.headers.get("Accept"))
            request.ksql_media_type = media_type or ksqldb.KSQL_V1_JSON  # type: ignore[attr-defined]
            if media_type is None:
                offered = " or ".join(ksqldb.RESPONSE_MEDIA_TYPES)
                return error(request, f"Accept must allow {offered}.", ErrorCode.NOT_ACCEPTABLE)
            if request.method not in methods:
                response = error(
                    request,
                    f"{request.method} is not allowed on {request.path}; use {', '.join(methods)}.",
                    ErrorCode.METHOD_NOT_ALLOWED,
                )
                response["Allow"] = ", ".join(methods)
                return response
            try:
                key = authenticate_request(request)
            except InvalidApiKey as exc:
                return unauthorized(request, exc.message)
            if key is None and not public:
                return unauthorized(
                    request, "Authentication required: HTTP Basic with an API key as user and its secret."
                )
            refusal = cross_site_refusal(request) if key is not None else None
            if refusal is not None:
                return error(request, refusal, ErrorCode.FORBIDDEN)
            try:
                return view(request, *args, **kwargs)
            except Exception:  # a bug answers in ksqlDB's shape, and is logged with its trace
                logger.exception("ksqldb endpoint %s failed", request.path)
                return error(
                    request, "Internal error; the server log has the details.", ErrorCode.SERVER_ERROR
                )

        return wrapper

    return decorate


@endpoint("GET")
def info(request: HttpRequest) -> HttpResponse:
    try:
        kafka_cluster_id = cluster_id(settings.KAFKA_CLIENT_CONFIG)
    except ClusterUnavailable as exc:
        return error(
            request, f"Kafka is unavailable, so there is no cluster id: {exc}", ErrorCode.SERVICE_UNAVAILABLE
        )
    return respond(request, ksqldb.server_info(kafka_cluster_id))


# Verdicts only, like /api/health for anonymous callers: load balancers poll it without a key.
@endpoint("GET", public=True)
def healthcheck(request: HttpRequest) -> HttpResponse:
    verdicts = _run_checks(HEALTH_PARTS)
    body = ksqldb.health_check(verdicts)
    return respond(request, body, status=200 if body["isHealthy"] else 503)


@endpoint("POST")
def ksql(request: HttpRequest) -> HttpResponse:
    if not ksqldb.request_media_type_accepted(request.content_type):
        accepted = ", ".join(sorted(ksqldb.REQUEST_MEDIA_TYPES))
        return error(
            request,
            f"The body must be JSON sent as one of {accepted}, not {request.content_type}.",
            ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        )
    try:
        payload = json.loads(request.body)
    except UnicodeDecodeError as exc:
        return error(
            request, f"The body is not UTF-8: invalid byte at position {exc.start}.", ErrorCode.BAD_REQUEST
        )
    except json.JSONDecodeError as exc:
        return error(
            request,
            f"Malformed JSON body: {exc.msg} at line {exc.lineno}, column {exc.colno}.",
            ErrorCode.BAD_REQUEST,
        )
    try:
        ksql_request = ksqldb.KsqlRequest.model_validate(payload)
    except ValidationError as exc:
        return error(request, _field_errors(exc), ErrorCode.BAD_REQUEST)
    try:
        entities = ksqldb.execute(ksql_request, request.user)
    except ksqldb.ExecutionError as exc:
        body = ksqldb.statement_error(exc.message, exc.statement.text, exc.entities, exc.code)
        return respond(request, body, status=exc.code.http_status)
    return respond(request, entities)


@endpoint("GET")
def command_status(request: HttpRequest, command_id: str) -> HttpResponse:
    body = ksqldb.command_status(command_id, request.user)
    if body is None:
        return error(request, f"Command not found: {command_id}", ErrorCode.NOT_FOUND)
    return respond(request, body)


@endpoint("GET", "POST", "PUT", "DELETE", "PATCH", public=True)
def not_found(request: HttpRequest, rest: str) -> HttpResponse:
    message = (
        f"No ksqlDB endpoint at /ksqldb/{rest}; Weir has /info, /healthcheck, /ksql, /status/<id>, "
        "/query, /query-stream, /close-query and /inserts-stream."
    )
    return error(request, message, ErrorCode.NOT_FOUND)


def _run_checks(parts: dict[str, str]) -> dict[str, bool]:
    """Each named check of dashboard/health.py in its own thread, bounded as /api/health's are."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=len(parts), thread_name_prefix="ksqldb-health")
    try:
        futures = {name: pool.submit(health.CHECKS[check]) for name, check in parts.items()}
        verdicts = {}
        for name, future in futures.items():
            try:
                verdicts[name] = bool(future.result(timeout=health.CHECK_DEADLINE_S)["ok"])
            except Exception:  # a check that hangs or breaks is an unhealthy part, not a 500
                verdicts[name] = False
        return verdicts
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _field_errors(exc: ValidationError) -> str:
    problems = []
    for item in exc.errors():
        where = ".".join(str(part) for part in item["loc"]) or "the body"
        problems.append(f"{where}: {item['msg']}")
    return "Invalid request: " + "; ".join(problems) + "."


urlpatterns = [
    path("info", info, name="ksqldb-info"),
    path("healthcheck", healthcheck, name="ksqldb-healthcheck"),
    path("ksql", ksql, name="ksqldb-ksql"),
    path("status/<path:command_id>", command_status, name="ksqldb-status"),
    path("", include("config.ksqldb_stream")),  # query, query-stream, close-query, inserts-stream
    re_path(r"^(?P<rest>.*)$", not_found, name="ksqldb-not-found"),
]
