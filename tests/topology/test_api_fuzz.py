"""Random corruptions of a valid document, sent through the API, never answer 500."""

import copy
import json

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.topology.compiler.documents import PAGE_VIEWS

pytestmark = pytest.mark.django_db

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def corrupted_documents(draw):
    """PAGE_VIEWS with one value somewhere replaced by arbitrary JSON (or a key dropped)."""
    document = copy.deepcopy(PAGE_VIEWS)
    containers = []

    def walk(value):
        if isinstance(value, dict):
            containers.append(value)
            for child in value.values():
                walk(child)
        elif isinstance(value, list):
            containers.append(value)
            for child in value:
                walk(child)

    walk(document)
    target = draw(st.sampled_from(containers))
    if not target:
        return document
    if isinstance(target, dict):
        key = draw(st.sampled_from(sorted(target)))
        if draw(st.booleans()):
            target[key] = draw(json_values)
        else:
            del target[key]
    else:
        target[draw(st.integers(0, len(target) - 1))] = draw(json_values)
    return document


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=corrupted_documents())
def test_corrupted_documents_get_answers_never_500(api: Client, page_views_topology, document):
    body = json.dumps({"document": document})
    validated = api.post("/api/topologies/validate", data=body, content_type="application/json")
    assert validated.status_code == 200, validated.content[:300]
    result = validated.json()
    assert result["ok"] or result["issues"]
    saved = api.post(
        f"/api/topologies/{page_views_topology.pk}/versions", data=body, content_type="application/json"
    )
    assert saved.status_code in (200, 201, 422), saved.content[:300]
    if saved.status_code == 422:
        assert saved.json()["issues"]
