"""Malformed input to the deployments, dashboards and preview APIs answers 4xx, never 500."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.topology.compiler import documents

pytestmark = pytest.mark.django_db

HUGE = 10**30  # past SQLite's 64-bit INTEGER


def answer(client, method, url, body=None):
    client.raise_request_exception = False
    if body is None:
        return getattr(client, method)(url)
    data = body if isinstance(body, bytes) else json.dumps(body)
    return getattr(client, method)(url, data=data, content_type="application/json")


@pytest.mark.parametrize(
    "url",
    [
        f"/api/deployments?topology_id={HUGE}",
        f"/api/dashboards?deployment={HUGE}",
        "/api/deployments?topology_id=-1",
        "/api/dashboards?deployment=abc",
    ],
)
def test_list_filters_out_of_range_answer_422_naming_the_parameter(alice_api, owned, url):
    response = answer(alice_api, "get", url)
    assert response.status_code == 422, response.content[:300]
    assert url.split("?")[1].split("=")[0] in response.content.decode()


def test_list_filters_in_range_still_filter(alice_api, owned):
    deployments = answer(alice_api, "get", f"/api/deployments?topology_id={owned['topology'].pk}").json()
    assert [d["id"] for d in deployments] == [owned["deployment"].pk]
    dashboards = answer(alice_api, "get", f"/api/dashboards?deployment={owned['deployment'].pk}").json()
    assert [d["id"] for d in dashboards] == [owned["dashboard"].pk]


def endpoint_cases(owned):
    t, d, b = owned["topology"].pk, owned["deployment"].pk, owned["dashboard"].pk
    return [
        ("get", f"/api/topologies/{HUGE}"),
        ("get", f"/api/deployments/{HUGE}"),
        ("get", f"/api/dashboards/{HUGE}"),
        ("get", f"/api/dashboards/snapshot/{HUGE}/live"),
        ("get", f"/api/topologies/{t}/export?version={HUGE}"),
        ("post", "/api/deployments"),
        ("post", f"/api/deployments/{d}/scale"),
        ("post", f"/api/deployments/{d}/upgrade"),
        ("post", f"/api/deployments/{d}/start"),
        ("post", "/api/dashboards"),
        ("put", f"/api/dashboards/{b}"),
        ("post", "/api/preview"),
        ("post", "/api/preview/describe"),
        ("patch", f"/api/topologies/{t}"),
    ]


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-HUGE, max_value=HUGE)
    | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=12), children, max_size=3)
    ),
    max_leaves=8,
)
# Bodies shaped like the real ones, with arbitrary values in the known fields.
FIELDS = [
    "topology_id", "version", "instances", "guarantee", "error_policy", "app_id", "confirm",
    "deployment", "title", "widgets", "kind", "view", "options", "document", "source", "records",
    "sample", "name", "description",
]  # fmt: skip
bodies = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=4) | json_values


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(index=st.integers(min_value=0, max_value=13), body=bodies)
def test_arbitrary_bodies_and_ids_never_answer_500(alice_api, owned, index, body):
    method, url = endpoint_cases(owned)[index]
    response = answer(alice_api, method, url, None if method == "get" else body)
    assert response.status_code < 500, (method, url, body, response.content[:300])


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b"[1, 2", b""])
def test_malformed_bodies_answer_4xx_on_every_router(alice_api, owned, body):
    for method, url in endpoint_cases(owned):
        if method == "get":
            continue
        response = answer(alice_api, method, url, body)
        assert 400 <= response.status_code < 500, (method, url, body, response.content[:300])


@pytest.mark.parametrize(
    "content_type", ["multipart/form-data; boundary=BoUnDaRy", "application/x-www-form-urlencoded"]
)
def test_form_encoded_posts_answer_4xx_on_every_router(alice_api, owned, content_type):
    alice_api.raise_request_exception = False
    for method, url in endpoint_cases(owned):
        if method == "get":
            continue
        response = getattr(alice_api, method)(url, data=b"a=1", content_type=content_type)
        assert 400 <= response.status_code < 500, (method, url, response.content[:200])


def test_a_multipart_post_answers_415_asking_for_json(alice_api, owned):
    alice_api.raise_request_exception = False
    response = alice_api.post("/api/deployments", data={"topology_id": owned["topology"].pk})
    assert response.status_code == 415, response.content[:200]
    assert "application/json" in response.json()["detail"]


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-HUGE, max_value=HUGE)
    | st.floats()
    | st.text(max_size=30)
    | st.just("")
    | st.just("\x00")
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    version=scalars,
    instances=scalars,
    guarantee=st.sampled_from(["at_least_once", "exactly_once"]) | scalars,
    error_policy=st.sampled_from(["dlq", "skip", "fail"]) | scalars,
    app_id=scalars,
)
def test_deployment_bodies_of_the_right_shape_with_wrong_values_never_answer_500(
    alice_api, owned, version, instances, guarantee, error_policy, app_id
):
    body = {"topology_id": owned["topology"].pk, "version": version, "instances": instances}
    body |= {"guarantee": guarantee, "error_policy": error_policy, "app_id": app_id}
    response = answer(alice_api, "post", "/api/deployments", body)
    assert response.status_code < 500, (body, response.content[:300])
    upgrade = answer(
        alice_api, "post", f"/api/deployments/{owned['deployment'].pk}/upgrade", {"version": version}
    )
    assert upgrade.status_code < 500, (version, upgrade.content[:300])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    title=scalars,
    kind=st.sampled_from(["table", "line", "bar", "number"]) | scalars,
    view=st.just("live") | scalars,
    options=st.dictionaries(st.text(max_size=8), scalars, max_size=3) | scalars,
)
def test_dashboard_bodies_of_the_right_shape_with_wrong_values_never_answer_500(
    alice_api, owned, title, kind, view, options
):
    widget = {"kind": kind, "view": view, "title": title, "options": options}
    body = {"deployment": owned["deployment"].pk, "title": title, "widgets": [widget]}
    response = answer(alice_api, "post", "/api/dashboards", body)
    assert response.status_code < 500, (body, response.content[:300])
    body.pop("deployment")
    updated = answer(alice_api, "put", f"/api/dashboards/{owned['dashboard'].pk}", body)
    assert updated.status_code < 500, (body, updated.content[:300])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    source=st.sampled_from(["views", "out", "nope"]) | scalars,
    records=st.lists(
        st.fixed_dictionaries(
            {
                "key": scalars,
                "value": st.dictionaries(st.sampled_from(["region", "page", "duration_ms"]), scalars),
            },
            optional={"timestamp": scalars, "headers": scalars, "partition": scalars},
        )
        | scalars,
        max_size=5,
    )
    | scalars,
    sample=scalars,
)
def test_preview_bodies_of_the_right_shape_with_wrong_values_never_answer_500(
    alice_api, source, records, sample
):
    body = {"document": documents.page_views(), "source": source, "records": records}
    if sample is not None:
        body["sample"] = sample
    response = answer(alice_api, "post", "/api/preview", body)
    assert response.status_code < 500, (body, response.content[:300])
