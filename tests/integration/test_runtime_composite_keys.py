"""A multi-column group-by through a real broker: composite keys on the repartition topic."""

from __future__ import annotations

import random
from collections import Counter

import orjson
import pytest

from processing.runtime import serde
from tests.integration.runtime_harness import (
    Runner,
    count_document,
    counts_by_key,
    create_topics,
    delete_app_topics,
    lag,
    produce,
    read_all,
    unique,
    wait_until,
    write_document,
)
from topology.compiler import naming

pytestmark = pytest.mark.integration


@pytest.mark.timeout(120)
def test_a_group_by_two_fields_counts_each_combination_on_one_partition(tmp_path):
    source, out, app_id = unique("clicks"), unique("clicks-by-region-page"), unique("composite")
    create_topics({source: 3, out: 2})
    try:
        rng = random.Random(14)
        rows = [(rng.choice(["eu", "us", "apac"]), rng.choice(["/a", "/b", "/c", "/d"])) for _ in range(3000)]
        produce(
            source,
            [
                (f"user-{i % 101}".encode(), orjson.dumps({"region": region, "page": page, "n": i}))
                for i, (region, page) in enumerate(rows)
            ],
        )
        document = count_document([source], out)
        document["nodes"][1]["config"]["group_by"] = ["region", "page"]
        runner = Runner(write_document(tmp_path, document), app_id, plan=False, guarantee="exactly_once")
        repartition = naming.repartition_topic(app_id, "counts")
        wait_until(lambda: runner.processed() > 0, 60, "processing to start")
        wait_until(
            lambda: lag(app_id, [source]) == 0 and lag(app_id, [repartition]) == 0,
            60,
            "both sub-topologies to drain",
        )
        assert runner.stop() == 0, runner.describe()

        expected = {
            orjson.dumps({"page": page, "region": region}, option=orjson.OPT_SORT_KEYS).decode(): n
            for (region, page), n in Counter(rows).items()
        }
        latest = {key: values[-1] for key, values in counts_by_key(read_all(out)).items()}
        assert latest == expected
        # Every record of one group went to the partition its canonical key bytes give.
        placed = {(r["key"], r["partition"]) for r in read_all(repartition)}
        assert {key for key, _ in placed} == {key.encode() for key in expected}
        assert all(partition == serde.partition_for(key, 3) for key, partition in placed)
    finally:
        delete_app_topics(app_id, [source, out])
