"""Property tests: random valid DAGs compile deterministically; corrupted documents never
make the compiler raise and always come back with issues."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from topology.compiler import compile_document
from topology.compiler.plan import plan_from_json, plan_to_json

PROPERTY_SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

EXPRESSIONS = [
    "amount > 10",
    "region = 'eu'",
    "user.age BETWEEN 18 AND 65",
    "name LIKE 'a%'",
    "flag IS NOT NULL",
]


@st.composite
def valid_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A random valid DAG: sources, then stream and table operators on earlier outputs,
    and a sink or view on every output nobody consumes."""
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    streams: list[tuple[str, str | None]] = []  # (node id, source port) producing a stream
    tables: list[tuple[str, str | None]] = []
    consumed: set[tuple[str, str | None]] = set()

    def add(node_id: str, type_: str, config: dict[str, Any]) -> None:
        nodes.append({"id": node_id, "type": type_, "config": config})

    def connect(source: tuple[str, str | None], target: str, port: str | None = None) -> None:
        edge: dict[str, Any] = {"source": source[0], "target": target}
        if source[1]:
            edge["source_port"] = source[1]
        if port:
            edge["target_port"] = port
        edges.append(edge)
        consumed.add(source)

    for index in range(draw(st.integers(1, 3))):
        if draw(st.booleans()) or index == 0:
            add(f"src{index}", "source", {"topics": [f"topic{index}"]})
            streams.append((f"src{index}", None))
        else:
            add(f"tbl{index}", "table_source", {"topic": f"table{index}"})
            tables.append((f"tbl{index}", None))

    for index in range(draw(st.integers(0, 10))):
        node_id = f"n{index}"
        choice = draw(
            st.sampled_from(
                [
                    "filter",
                    "map",
                    "select_key",
                    "flat_map",
                    "to_table",
                    "aggregate",
                    "merge",
                    "branch",
                    "join",
                    "to_stream",
                ]
            )
        )
        if choice == "to_stream" and tables:
            upstream = draw(st.sampled_from(tables))
            add(node_id, "to_stream", {})
            connect(upstream, node_id)
            streams.append((node_id, None))
            continue
        if choice == "join" and streams and tables:
            left, right = draw(st.sampled_from(streams)), draw(st.sampled_from(tables))
            add(node_id, "join", {"how": draw(st.sampled_from(["inner", "left"]))})
            connect(left, node_id, "left")
            connect(right, node_id, "right")
            streams.append((node_id, None))
            continue
        if not streams:
            continue
        if choice in ("to_stream", "join"):
            choice = "filter"  # the inputs it needs are not there yet
        upstream = draw(st.sampled_from(streams))
        if choice == "filter":
            add(node_id, "filter", {"where": draw(st.sampled_from(EXPRESSIONS))})
        elif choice == "map":
            add(node_id, "map", {"fields": {"doubled": "amount * 2"}, "drop": ["secret"]})
        elif choice == "select_key":
            add(node_id, "select_key", {"key": "user.id"})
        elif choice == "flat_map":
            add(node_id, "flat_map", {"field": "items"})
        elif choice == "to_table":
            add(node_id, "to_table", {})
            connect(upstream, node_id)
            tables.append((node_id, None))
            continue
        elif choice == "aggregate":
            window = draw(
                st.sampled_from([None, {"type": "tumbling", "size": "1m"}, {"type": "session", "gap": "30s"}])
            )
            add(
                node_id,
                "aggregate",
                {
                    "group_by": draw(st.sampled_from([None, "page"])),
                    "aggregations": {"n": "COUNT(*)"},
                    "window": window,
                },
            )
            connect(upstream, node_id)
            tables.append((node_id, None))
            continue
        elif choice == "merge":
            others = draw(st.lists(st.sampled_from(streams), min_size=1, max_size=3, unique=True))
            add(node_id, "merge", {})
            for other in others:
                connect(other, node_id)
            streams.append((node_id, None))
            continue
        elif choice == "branch":
            add(
                node_id,
                "branch",
                {"branches": [{"name": "a", "where": "x > 1"}, {"name": "b", "where": "x < 0"}]},
            )
            connect(upstream, node_id)
            streams.extend([(node_id, "a"), (node_id, "default")])
            consumed.add((node_id, "b"))  # left unconnected on purpose: a warning, not an error
            continue
        connect(upstream, node_id)
        streams.append((node_id, None))

    for index, output in enumerate(sorted(set(streams + tables) - consumed, key=str)):
        terminal = f"end{index}"
        if draw(st.booleans()):
            add(terminal, "sink", {"topic": f"out{index}"})
        else:
            add(terminal, "view", {"title": f"View {index}"})
        connect(output, terminal)
    return {"name": "random", "nodes": nodes, "edges": edges}


@PROPERTY_SETTINGS
@given(valid_documents(), st.randoms(use_true_random=False))
def test_random_valid_dags_compile_to_the_same_hash_however_they_are_ordered_or_laid_out(document, random):
    first = compile_document(document)
    assert first.ok, [str(issue) for issue in first.issues]
    again = compile_document(copy.deepcopy(document))
    assert again.plan == first.plan and again.plan.hash == first.plan.hash

    shuffled = copy.deepcopy(document)
    random.shuffle(shuffled["nodes"])
    random.shuffle(shuffled["edges"])
    for item in shuffled["nodes"]:
        item["position"] = {"x": random.randint(-5000, 5000), "y": random.random() * 1000}
    assert compile_document(shuffled).plan.hash == first.plan.hash

    assert plan_from_json(plan_to_json(first.plan)) == first.plan


JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True), st.text(max_size=30)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


def _corrupt(document: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    """Break the document in a way that is always an error."""
    broken = copy.deepcopy(document)
    nodes = broken["nodes"]
    victim = data.draw(st.sampled_from(nodes))
    how = data.draw(
        st.sampled_from(
            [
                "unknown_top_field",
                "node_id_type",
                "node_type",
                "config_garbage",
                "config_unknown_field",
                "drop_source_edges",
                "dangling_edge",
                "duplicate_node",
                "bad_expression",
                "nodes_not_list",
                "edge_garbage",
                "drop_all_sources",
            ]
        )
    )
    if how == "unknown_top_field":
        broken[data.draw(st.sampled_from(["version", "colour", "nodez"]))] = data.draw(JSON_VALUES)
    elif how == "node_id_type":
        victim["id"] = data.draw(st.one_of(st.integers(), st.none(), st.just("has space"), st.just("")))
    elif how == "node_type":
        victim["type"] = data.draw(st.one_of(st.just("nope"), st.integers(), st.none()))
    elif how == "config_garbage":
        victim["config"] = data.draw(
            st.one_of(st.lists(JSON_SCALARS, max_size=3), st.text(max_size=5), st.integers())
        )
    elif how == "config_unknown_field":
        victim["config"]["surely_not_a_field"] = data.draw(JSON_VALUES)
    elif how == "drop_source_edges":
        first = nodes[0]["id"]
        broken["edges"] = [e for e in broken["edges"] if e["source"] != first]
    elif how == "dangling_edge":
        broken["edges"].append({"source": victim["id"], "target": "does-not-exist"})
    elif how == "duplicate_node":
        nodes.append(copy.deepcopy(victim))
    elif how == "bad_expression":
        victim_filter = {
            "id": "zz_bad",
            "type": "filter",
            "config": {
                "where": data.draw(
                    st.sampled_from(["a = ", "__import__('x')", "'a' * 9", "NOPE(1)", "(" * 40])
                )
            },
        }
        nodes.append(victim_filter)
        broken["edges"].append({"source": nodes[0]["id"], "target": "zz_bad"})
        nodes.append({"id": "zz_out", "type": "sink", "config": {"topic": "zz"}})
        broken["edges"].append({"source": "zz_bad", "target": "zz_out"})
    elif how == "nodes_not_list":
        broken["nodes"] = data.draw(
            st.one_of(st.none(), st.text(max_size=5), st.dictionaries(st.text(max_size=3), JSON_SCALARS))
        )
    elif how == "edge_garbage":
        broken["edges"].append(
            data.draw(st.one_of(JSON_SCALARS, st.dictionaries(st.text(max_size=5), JSON_SCALARS, max_size=3)))
        )
    elif how == "drop_all_sources":
        broken["nodes"] = [n for n in nodes if n["type"] not in ("source", "table_source")]
    return broken


@PROPERTY_SETTINGS
@given(valid_documents(), st.data())
def test_corrupted_documents_never_raise_and_always_return_issues(document, data):
    result = compile_document(_corrupt(document, data))
    assert not result.ok
    assert result.plan is None
    assert result.errors
    for issue in result.issues:
        assert issue.code and issue.message and issue.code != "compiler.internal"
        assert set(issue.to_dict()) == {
            "code",
            "message",
            "node_id",
            "edge_id",
            "field",
            "position",
            "severity",
        }


@settings(max_examples=80, deadline=None)
@given(JSON_VALUES)
def test_arbitrary_json_never_makes_the_compiler_raise(value):
    result = compile_document(value)
    assert not result.ok and result.issues
    assert all(issue.code != "compiler.internal" for issue in result.issues)
