"""The connection configuration of every Kafka client Weir creates, from the environment.

One mapping, two steps:

1. :func:`connection_config` turns the environment into the installation's client
   configuration (``settings.KAFKA_CLIENT_CONFIG``): ``bootstrap.servers`` from
   ``KAFKA_BOOTSTRAP_SERVERS``, and every ``WEIR_KAFKA_<SETTING>`` as librdkafka's
   ``<setting>`` (lower-cased, ``_`` → ``.``): ``WEIR_KAFKA_SASL_MECHANISM`` → ``sasl.mechanism``,
   ``WEIR_KAFKA_DEBUG`` → ``debug``. Variables in :data:`OPS_ONLY` configure the local stack
   (``ops/``), not a client, and are left out.
2. :func:`client_config` picks what one client gets: every unscoped setting, then the
   client's own defaults, then the settings scoped to it. A setting is scoped by a
   ``consumer.`` or ``producer.`` prefix (``WEIR_KAFKA_CONSUMER_SESSION_TIMEOUT_MS`` →
   ``consumer.session.timeout.ms``, the consumers' ``session.timeout.ms`` only); the
   AdminClient takes the unscoped settings alone.

So an unscoped setting reaches every client (the runtime's consumer, producer and restore
consumer, the AdminClient, the health check, the preview's sampler, the demo feeder), and a
default Weir sets for one client yields only to a setting scoped to that client. Nothing else
filters: librdkafka itself rejects a misspelt name when the client is created.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PREFIX = "WEIR_KAFKA_"
# Read by ops/stack_processes.py for the local broker's JVM; librdkafka has no such property
# (it would fail every client with "No such configuration property"). Every WEIR_KAFKA_
# variable ops/ reads belongs here (tests/processing/runtime_kafka/test_config.py checks).
OPS_ONLY = frozenset({"WEIR_KAFKA_HEAP"})
SCOPES = ("consumer", "producer")
DEFAULT_BOOTSTRAP_SERVERS = "127.0.0.1:9092"


def setting_name(variable: str) -> str:
    """librdkafka's name for a ``WEIR_KAFKA_<SETTING>`` variable."""
    return variable[len(PREFIX) :].lower().replace("_", ".")


def connection_config(environ: Mapping[str, str]) -> dict[str, str]:
    """The installation's client configuration from an environment (``os.environ``)."""
    config = {"bootstrap.servers": environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_BOOTSTRAP_SERVERS)}
    for variable, value in environ.items():
        if variable.startswith(PREFIX) and variable not in OPS_ONLY:
            config[setting_name(variable)] = value
    return config


def unscoped(kafka_config: Mapping[str, Any]) -> dict[str, Any]:
    """The settings for every client: those without a client scope."""
    scoped = tuple(f"{scope}." for scope in SCOPES)
    return {key: value for key, value in kafka_config.items() if not key.startswith(scoped)}


def scoped(kafka_config: Mapping[str, Any], scope: str) -> dict[str, Any]:
    """The settings scoped to one kind of client, without the scope prefix."""
    if scope not in SCOPES:
        raise ValueError(f"unknown client scope {scope!r} (expected one of {', '.join(SCOPES)})")
    prefix = f"{scope}."
    return {key[len(prefix) :]: value for key, value in kafka_config.items() if key.startswith(prefix)}


def client_config(
    kafka_config: Mapping[str, Any], scope: str | None = None, defaults: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """One client's configuration: unscoped settings < ``defaults`` < settings of ``scope``.

    ``scope=None`` is the AdminClient's: unscoped settings and ``defaults`` only.
    """
    return {
        **unscoped(kafka_config),
        **(defaults or {}),
        **(scoped(kafka_config, scope) if scope is not None else {}),
    }
