"""One connection configuration for every Kafka client (processing/runtime/kafka/config.py):
``WEIR_KAFKA_<SETTING>`` reaches every client as librdkafka's ``<setting>``, settings scoped
to one client reach that client only, and the ops-only variables reach none (no broker)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from ops.stack_processes import free_port
from processing.runtime.kafka import admin, clients, demo, health
from processing.runtime.kafka.config import OPS_ONLY, PREFIX, client_config, connection_config
from topology.compiler.binding import bind
from topology.compiler.plan import Plan

# The clients take their group and transactional id from a bound plan; an empty one will do.
APP = bind(Plan(name="app", subtopologies=()), "app")

ROOT = Path(__file__).resolve().parents[3]


def test_each_weir_kafka_variable_becomes_the_librdkafka_setting_of_its_name():
    config = connection_config(
        {
            "KAFKA_BOOTSTRAP_SERVERS": "b1:9092,b2:9092",
            "WEIR_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "WEIR_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "WEIR_KAFKA_DEBUG": "broker,topic",
            "WEIR_KAFKA_CONSUMER_SESSION_TIMEOUT_MS": "9000",
            "WEIR_REDIS_PREFIX": "not-kafka:",
            "PATH": "/usr/bin",
        }
    )
    assert config == {
        "bootstrap.servers": "b1:9092,b2:9092",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "debug": "broker,topic",
        "consumer.session.timeout.ms": "9000",
    }


def test_without_kafka_bootstrap_servers_the_local_broker_is_used():
    assert connection_config({}) == {"bootstrap.servers": "127.0.0.1:9092"}


def test_the_local_brokers_heap_is_no_client_setting():
    assert "WEIR_KAFKA_HEAP" in OPS_ONLY
    assert connection_config({"WEIR_KAFKA_HEAP": "512m"}) == {"bootstrap.servers": "127.0.0.1:9092"}


def test_every_weir_kafka_variable_that_ops_reads_is_ops_only():
    read_by_ops = set()
    for path in (ROOT / "ops").glob("*.py"):
        read_by_ops |= set(re.findall(r"\b(WEIR_KAFKA_[A-Z0-9_]+)\b", path.read_text()))
    read_by_ops.discard(PREFIX.rstrip("_"))
    assert read_by_ops, "ops/ reads WEIR_KAFKA_HEAP at least"
    assert read_by_ops <= OPS_ONLY


def test_an_unscoped_setting_yields_to_a_clients_default_and_a_scoped_one_wins_over_it():
    kafka_config = {"linger.ms": 5, "debug": "all", "producer.linger.ms": 100, "consumer.fetch.min.bytes": 1}
    assert client_config(kafka_config, "producer", defaults={"linger.ms": 20}) == {
        "debug": "all",
        "linger.ms": 100,
    }
    assert client_config({"linger.ms": 5}, "producer", defaults={"linger.ms": 20}) == {"linger.ms": 20}
    assert client_config(kafka_config) == {"linger.ms": 5, "debug": "all"}  # the AdminClient's
    with pytest.raises(ValueError, match="unknown client scope"):
        client_config(kafka_config, "admin")


DEBUG = {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092", "WEIR_KAFKA_DEBUG": "broker,cgrp"}


@pytest.mark.parametrize(
    "client",
    [
        lambda c: clients.consumer_config(c, APP),
        lambda c: clients.restore_consumer_config(c, APP),
        lambda c: clients.producer_config(c, APP, guarantee="at_least_once"),
        lambda c: clients.producer_config(c, APP, guarantee="exactly_once"),
        admin.admin_config,
        health.health_config,
        demo.admin_config,
        demo.feeder_config,
    ],
    ids=[
        "runtime consumer",
        "restore consumer",
        "producer",
        "transactional producer",
        "admin",
        "health check",
        "demo admin",
        "demo feeder",
    ],
)
def test_weir_kafka_debug_reaches_every_client(client):
    config = client(connection_config(DEBUG))
    assert config["debug"] == "broker,cgrp"
    assert config["bootstrap.servers"] == "127.0.0.1:9092"


def test_scoped_settings_reach_their_own_client_only():
    kafka_config = connection_config(
        {
            "WEIR_KAFKA_CONSUMER_SESSION_TIMEOUT_MS": "9000",
            "WEIR_KAFKA_PRODUCER_LINGER_MS": "100",
        }
    )
    consumer = clients.consumer_config(kafka_config, APP)
    producer = clients.producer_config(kafka_config, APP, guarantee="at_least_once")
    assert consumer["session.timeout.ms"] == "9000"
    assert "session.timeout.ms" not in producer and "consumer.session.timeout.ms" not in producer
    assert producer["linger.ms"] == "100"
    assert not any(key.startswith(("consumer.", "producer.")) for key in admin.admin_config(kafka_config))
    # An unscoped setting yields to the runtime producer's own default.
    unscoped_linger = connection_config({"WEIR_KAFKA_LINGER_MS": "1"})
    assert clients.producer_config(unscoped_linger, APP, guarantee="at_least_once")["linger.ms"] == 20


def test_librdkafka_accepts_every_clients_configuration_with_the_ops_variables_set():
    """Before one function did the mapping, WEIR_KAFKA_HEAP became the property ``heap`` and
    the demo feeder of `make run` died with "No such configuration property"."""
    kafka_config = connection_config(
        {
            # Nothing listens there: creating a client checks its configuration, not the broker.
            "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
            "WEIR_KAFKA_HEAP": "512m",
            "WEIR_KAFKA_SOCKET_TIMEOUT_MS": "2000",
            "WEIR_KAFKA_CONSUMER_FETCH_MIN_BYTES": "1",
            "WEIR_KAFKA_PRODUCER_LINGER_MS": "10",
        }
    )
    quiet = {"log_level": 0}
    Producer({**demo.feeder_config(kafka_config), **quiet}).flush(0)
    Producer({**clients.producer_config(kafka_config, APP, guarantee="at_least_once"), **quiet}).flush(0)
    Consumer({**clients.consumer_config(kafka_config, APP), **quiet}).close()
    Consumer({**clients.restore_consumer_config(kafka_config, APP), **quiet}).close()
    for config in (admin.admin_config(kafka_config), demo.admin_config(kafka_config)):
        AdminClient({**config, **quiet})
