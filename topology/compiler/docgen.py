"""Generate docs/nodes.md, the node reference, from the catalog.

    python -m topology.compiler.docgen > docs/nodes.md
    python -m topology.compiler.docgen --catalog-json > tests/topology/compiler/golden/catalog.json

A test checks each committed file is what this prints, so the reference never drifts from
the models the compiler validates with, and the JavaScript tests load the catalog the server
really sends (the second file).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from topology.compiler.catalog import NODE_TYPES, PALETTE_GROUPS, NodeType, catalog_schema

HEADER = """# Node reference

Generated from the node catalog (`topology/compiler/catalog.py`) by
`python -m topology.compiler.docgen > docs/nodes.md`; do not edit by hand.
The document format is in [topology-format.md](topology-format.md), expressions in
[expressions.md](expressions.md).

Ports are typed **stream** (every record is an event, like a Kafka Streams `KStream`) or
**table** (the latest value per key, updates and deletes, like a `KTable`). Durations are
milliseconds or strings such as `"500ms"`, `"10s"`, `"5m"`, `"1h"`, `"1d"`.
"""

_OUTPUT_RULES = {
    "stream": "stream",
    "table": "table",
    "same": "the kind of its input (stream in, stream out; table in, table out)",
    "join": "stream for stream-stream and stream-table joins, table for table-table joins",
    "none": "none (a terminal node)",
}


def _type_text(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        target = defs.get(name, {})
        if "properties" in target:
            return f"object ({name})"
        return _type_text(target, defs)
    if "enum" in schema:
        return " \\| ".join(f"`{json.dumps(v)}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    if "anyOf" in schema or "oneOf" in schema:
        options = schema.get("anyOf") or schema.get("oneOf") or []
        parts = []
        for option in options:
            if option.get("type") == "null":
                continue
            parts.append(_type_text(option, defs))
        text = " or ".join(dict.fromkeys(parts))
        nullable = any(option.get("type") == "null" for option in options)
        return text + (" or null" if nullable else "")
    kind = schema.get("type")
    if kind == "array":
        return f"list of {_type_text(schema.get('items', {}), defs)}"
    if kind == "object":
        values = schema.get("additionalProperties")
        if isinstance(values, dict):
            return f"map of name → {_type_text(values, defs)}"
        return "object"
    if kind == "string" and schema.get("format") == "sql":
        return "SQL expression"
    if kind == "integer" and schema.get("description") == "milliseconds":
        return "duration"
    if "anyOf" not in schema and kind == "integer" and "minimum" in schema:
        return f"integer ≥ {schema['minimum']}"
    return kind or "any"


def _fields_table(schema: dict[str, Any], defs: dict[str, Any]) -> list[str]:
    properties = schema.get("properties", {})
    if not properties:
        return ["No configuration."]
    required = set(schema.get("required", []))
    rows = ["| field | type | default | description |", "| --- | --- | --- | --- |"]
    for name, spec in properties.items():
        default = (
            "required"
            if name in required
            else f"`{json.dumps(spec.get('default'))}`"
            if "default" in spec
            else ""
        )
        description = (spec.get("description") or "").replace("|", "\\|").replace("\n", " ")
        kind = _type_text(spec, defs)
        if kind.startswith("integer or string") or "duration" in kind:
            kind = "duration"
        rows.append(f"| `{name}` | {kind} | {default} | {description} |")
    return rows


def _node_section(name: str, node_type: NodeType, exported: dict[str, Any]) -> list[str]:
    schema = exported["config"]
    defs = schema.get("$defs", {})
    lines = [f'<a id="{name}"></a>', "", f"## `{name}` — {node_type.title}", "", node_type.description, ""]
    inputs = ", ".join(
        f"`{p['name']}` ({' or '.join(p['kinds'])}{', any number of edges' if p['multiple'] else ''})"
        for p in exported["inputs"]
    )
    lines.append(f"- Inputs: {inputs or 'none (a source)'}")
    if node_type.dynamic_outputs:
        lines.append(
            "- Outputs: one stream port per branch name, plus `default` for records no branch matches"
        )
    else:
        lines.append(f"- Output: {_OUTPUT_RULES[node_type.output]}")
    if node_type.expression_fields:
        lines.append(f"- Expressions in: {', '.join(f'`{f}`' for f in node_type.expression_fields)}")
    lines += ["", *_fields_table(schema, defs), ""]
    for def_name, definition in sorted(defs.items()):
        if "properties" not in definition:
            continue
        lines += [f"`{def_name}`:", "", *_fields_table(definition, defs), ""]
    return lines


def catalog_json() -> str:
    return json.dumps(catalog_schema(), indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def render() -> str:
    exported = catalog_schema()["node_types"]
    lines = [HEADER]
    groups: dict[str, list[str]] = {group: [] for group, _ in PALETTE_GROUPS}
    for name, node_type in NODE_TYPES.items():
        groups[node_type.group].append(name)
    lines.append("| palette group | node types |")
    lines.append("| --- | --- |")
    for group, title in PALETTE_GROUPS:
        links = ", ".join(f"[`{n}`](#{n})" for n in groups[group])
        lines.append(f"| {title} | {links} |")
    lines.append("")
    for name, node_type in NODE_TYPES.items():
        lines += _node_section(name, node_type, exported[name])
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    sys.stdout.write(catalog_json() if sys.argv[1:] == ["--catalog-json"] else render())
