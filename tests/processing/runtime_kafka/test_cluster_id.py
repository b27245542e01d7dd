"""admin.cluster_id: the broker's cluster id, or a clear ClusterUnavailable within its timeout."""

import time

import pytest

from processing.runtime.kafka.admin import ClusterUnavailable, cluster_id


def test_the_cluster_id_comes_from_the_broker(kafka_config):
    found = cluster_id(kafka_config)
    assert isinstance(found, str) and len(found) >= 10
    assert cluster_id(kafka_config) == found


def test_an_unreachable_cluster_is_named_within_the_timeout(free_port):
    bootstrap = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(ClusterUnavailable, match=f"Kafka at {bootstrap} is unreachable"):
        cluster_id({"bootstrap.servers": bootstrap}, timeout=1.0)
    assert time.monotonic() - started < 5
