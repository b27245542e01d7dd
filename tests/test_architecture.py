"""No import cycle between any two project modules, function-level imports included.

import-linter's layers contracts (pyproject.toml) keep the apps and the runtime stack in one
order; this test closes what they leave open: a cycle between two modules of one layer (two
dashboard modules, two operators). grimp, which import-linter runs on, reads every import
statement of a module, those inside functions too, so an import moved into a function to
dodge a cycle at import time still counts here. Tests and migrations are left out.
"""

from __future__ import annotations

from collections import deque

import grimp
import pytest

PACKAGES = ("topology", "processing", "dashboard", "config")


def project_graph() -> dict[str, set[str]]:
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    modules = {m for m in graph.modules if ".migrations" not in m and not m.startswith("tests")}
    return {m: {d for d in graph.find_modules_directly_imported_by(m) if d in modules} for m in modules}


def strongly_connected_components(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iteratively (the graph is deep enough to worry Python's stack)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def one_cycle(edges: dict[str, set[str]], component: list[str]) -> list[str]:
    """The shortest cycle through the component's first module, as a list ending where it began."""
    members = set(component)
    start = component[0]
    parents: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for child in sorted(edges[node] & members):
            if child == start:
                path = [node]
                while path[-1] != start:
                    path.append(parents[path[-1]])
                return [*reversed(path), start]
            if child not in parents:
                parents[child] = node
                queue.append(child)
    raise AssertionError(f"{component} is not a cycle")


def test_tarjan_finds_a_cycle_and_leaves_a_chain_alone():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    components = [c for c in strongly_connected_components(edges) if len(c) > 1]
    assert components == [["a", "b", "c"]]
    assert one_cycle(edges, components[0]) == ["a", "b", "c", "a"]
    assert all(len(c) == 1 for c in strongly_connected_components({"a": {"b"}, "b": {"c"}, "c": set()}))


def test_a_function_level_import_counts_as_an_import():
    # runner.py imports the Kafka loop inside InstanceRunner.run, when an instance starts.
    assert "processing.runtime.kafka.loop" in project_graph()["processing.runner"]


def test_no_import_cycle_between_project_modules():
    edges = project_graph()
    cycles = [c for c in strongly_connected_components(edges) if len(c) > 1]
    if cycles:
        lines = [f"{len(cycles)} import cycle(s) between project modules:"]
        for component in cycles:
            lines.append(
                f"- {len(component)} modules ({', '.join(component)}); one cycle: "
                + " -> ".join(one_cycle(edges, component))
            )
        pytest.fail("\n".join(lines))
