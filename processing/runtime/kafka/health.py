"""Is the Kafka cluster reachable, and who is in it? One DescribeCluster round trip."""

from __future__ import annotations

from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from processing.runtime.kafka.config import client_config


def cluster_health(kafka_config: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
    """``{"ok", "error", "cluster_id", "controller_id", "brokers": [{id, host, port, rack}]}``.

    Never raises: an unreachable or misconfigured cluster is a red entry with the reason.
    """
    config = health_config(kafka_config)
    bootstrap = config.get("bootstrap.servers", "")
    try:
        admin = AdminClient(config)
        description = admin.describe_cluster(request_timeout=timeout).result(timeout=timeout + 1)
    except KafkaException as exc:
        error = exc.args[0] if exc.args else exc
        message = error.str() if hasattr(error, "str") else str(error)
        return _red(bootstrap, f"Kafka at {bootstrap} is unreachable: {message}")
    except Exception as exc:  # misconfiguration (bad SASL setting, ...) must show, not crash the page
        return _red(bootstrap, f"Kafka at {bootstrap}: {type(exc).__name__}: {exc}")
    brokers = [
        {"id": node.id, "host": node.host, "port": node.port, "rack": node.rack}
        for node in sorted(description.nodes, key=lambda node: node.id)
    ]
    controller = description.controller
    return {
        "ok": bool(brokers) and controller is not None,
        "error": None if brokers else "the cluster reported no brokers",
        "bootstrap_servers": bootstrap,
        "cluster_id": description.cluster_id,
        "controller_id": controller.id if controller is not None else None,
        "brokers": brokers,
    }


def health_config(kafka_config: dict[str, Any]) -> dict[str, Any]:
    # The failure is reported in the result; librdkafka's own connect errors would repeat it on
    # stderr every time a status page polls.
    return client_config(kafka_config, defaults={"log_level": 0})


def _red(bootstrap: str, error: str) -> dict[str, Any]:
    return {
        "ok": False,
        "error": error,
        "bootstrap_servers": bootstrap,
        "cluster_id": None,
        "controller_id": None,
        "brokers": [],
    }
