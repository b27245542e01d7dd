"""The test driver runs the loop's checkpoint after every record, as Kafka Streams' driver runs
process + commit."""

from __future__ import annotations

from processing.runtime.executor import STREAM_TIME_KEY
from processing.runtime.testing import TopologyTestDriver
from tests.processing.runtime.builders import counting_plan


def store_log(driver):
    return [(r.key, r.value) for r in driver.changelog() if r.key != STREAM_TIME_KEY]


def test_every_piped_record_is_followed_by_a_checkpoint_that_commits_its_offset():
    driver = TopologyTestDriver(counting_plan(), partitions=2)
    driver.pipe_input("in", "a", {}, timestamp=1, partition=0)
    assert driver.committed_offsets() == {("in", 0): 1}
    driver.pipe_input("in", "b", {}, timestamp=2, partition=1)
    driver.pipe_input("in", "a", {}, timestamp=3, partition=0)
    assert driver.committed_offsets() == {("in", 0): 2, ("in", 1): 1}
    # The at-least-once order ran each time: the producer was flushed before each commit.
    assert driver.producer.flushes == 3 == driver.checkpoint.commits


def test_each_checkpoint_writes_the_changelog_of_its_record():
    driver = TopologyTestDriver(counting_plan())
    driver.pipe_input("in", "a", {}, timestamp=1)
    driver.pipe_input("in", "a", {}, timestamp=2)
    # One changelog record per checkpoint, i.e. per record: the store's every state is durable.
    assert len(store_log(driver)) == 2
    assert store_log(driver) == []


def test_an_interval_held_open_writes_one_changelog_record_per_changed_key():
    driver = TopologyTestDriver(counting_plan(), commit_every_record=False)
    driver.pipe_input("in", "a", {}, timestamp=1)
    driver.pipe_input("in", "a", {}, timestamp=2)
    assert driver.committed_offsets() == {}
    assert len(store_log(driver)) == 1  # changelog() ran the checkpoint
    assert driver.committed_offsets() == {("in", 0): 2}


def test_outputs_go_out_at_once_even_while_the_interval_is_held_open():
    driver = TopologyTestDriver(counting_plan(), commit_every_record=False)
    driver.pipe_input("in", "a", {}, timestamp=1)
    assert [v["count"] for _k, v, _ts in driver.read_output("out")] == [1]
