"""Owner-or-staff on every API endpoint and page: another user's object is a 404 (like a
missing one), staff see everything, anonymous callers are refused, and every state-changing
API call without the CSRF token is refused."""

import json

import pytest
from django.test import Client

from tests.security.conftest import browser_client

pytestmark = pytest.mark.django_db


def owned_urls(owned):
    """(method, url, body) of every endpoint that reads or changes one of alice's objects."""
    t, d, b = owned["topology"].pk, owned["deployment"].pk, owned["dashboard"].pk
    document = owned["version"].document
    return [
        ("get", f"/api/topologies/{t}", None),
        ("patch", f"/api/topologies/{t}", {"description": "mine now"}),
        ("get", f"/api/topologies/{t}/versions", None),
        ("post", f"/api/topologies/{t}/versions", {"document": document}),
        ("get", f"/api/topologies/{t}/versions/1", None),
        ("get", f"/api/topologies/{t}/versions/1/diff/1", None),
        ("get", f"/api/topologies/{t}/export", None),
        ("delete", f"/api/topologies/{t}", None),
        ("get", f"/api/deployments/{d}", None),
        ("post", f"/api/deployments/{d}/stop", None),
        ("post", f"/api/deployments/{d}/restart", None),
        ("post", f"/api/deployments/{d}/scale", {"instances": 2}),
        ("post", f"/api/deployments/{d}/upgrade", {"version": 1}),
        ("post", "/api/deployments", {"topology_id": t}),
        ("get", f"/api/dashboards/{b}", None),
        ("put", f"/api/dashboards/{b}", {"title": "mine now"}),
        ("delete", f"/api/dashboards/{b}", None),
        ("post", "/api/dashboards", {"deployment": d, "title": "spy", "widgets": []}),
        ("get", f"/api/dashboards/snapshot/{d}/live", None),
    ]


def call(client, method, url, body):
    client.raise_request_exception = False
    if body is None:
        return getattr(client, method)(url)
    return getattr(client, method)(url, data=json.dumps(body), content_type="application/json")


def test_another_users_objects_answer_404_on_every_endpoint(bob_api, owned):
    for method, url, body in owned_urls(owned):
        response = call(bob_api, method, url, body)
        assert response.status_code == 404, (method, url, response.status_code, response.content[:200])
    owned["topology"].refresh_from_db()
    assert owned["topology"].description == ""


def test_another_users_objects_do_not_appear_in_lists(bob_api, owned):
    for url in ["/api/topologies/", "/api/deployments", "/api/dashboards"]:
        response = call(bob_api, "get", url, None)
        assert response.status_code == 200 and response.json() == [], (url, response.content[:200])


def test_staff_may_read_every_users_objects(django_user_model, owned):
    staff = browser_client(django_user_model.objects.create_user("sam", password=None, is_staff=True))
    for method, url, _ in owned_urls(owned):
        if method == "get" and "snapshot" not in url:
            assert call(staff, method, url, None).status_code == 200, url


@pytest.mark.parametrize(
    "url",
    [
        "topologies/{t}/edit/",
        "deployments/{d}/",
        "deployments/{d}/dashboard/",
        "deployments/{d}/monitor/",
        "dashboards/{b}/",
    ],
)
def test_another_users_pages_answer_404(bob, alice, owned, url):
    url = "/" + url.format(t=owned["topology"].pk, d=owned["deployment"].pk, b=owned["dashboard"].pk)
    assert browser_client(alice).get(url).status_code in (200, 302)  # the dashboard link redirects
    assert browser_client(bob).get(url).status_code == 404


def test_anonymous_callers_are_refused_everywhere_but_health(owned):
    anonymous = Client()
    for method, url, body in owned_urls(owned):
        assert call(anonymous, method, url, body).status_code == 401, url
    for url in ["/api/topologies/", "/api/deployments", "/api/dashboards"]:
        assert call(anonymous, "get", url, None).status_code == 401, url
    page = anonymous.get(f"/deployments/{owned['deployment'].pk}/")
    assert page.status_code == 302 and "/accounts/login/" in page["Location"]


def test_admin_is_staff_only(alice):
    response = browser_client(alice).get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


STATE_CHANGING = [
    ("post", "/api/topologies/validate", {"document": {}}),
    ("post", "/api/topologies/", {"name": "csrf-less"}),
    ("post", "/api/preview", {"document": {}, "records": []}),
    ("post", "/api/preview/describe", {"document": {}}),
    ("post", "/api/deployments", {"topology_id": 1}),
    ("post", "/api/dashboards", {"deployment": 1, "title": "x"}),
]


@pytest.mark.parametrize("method,url,body", STATE_CHANGING)
def test_posts_without_the_csrf_token_are_refused(alice, method, url, body):
    without_token = Client(enforce_csrf_checks=True)
    without_token.force_login(alice)
    response = call(without_token, method, url, body)
    assert response.status_code == 403, response.content[:200]
    assert "CSRF" in response.content.decode()


def test_owned_changes_without_the_csrf_token_are_refused(alice, owned):
    without_token = Client(enforce_csrf_checks=True)
    without_token.force_login(alice)
    for method, url, body in owned_urls(owned):
        if method != "get":
            assert call(without_token, method, url, body).status_code == 403, url
    owned["topology"].refresh_from_db()
    assert owned["topology"].description == ""


@pytest.mark.parametrize(
    "url",
    [
        "topologies/{n}/edit/",
        "deployments/{n}/",
        "deployments/{n}/dashboard/",
        "deployments/{n}/monitor/",
        "dashboards/{n}/",
    ],
)
def test_pages_for_ids_past_the_database_range_answer_404(alice, url):
    client = browser_client(alice)
    client.raise_request_exception = False
    assert client.get("/" + url.format(n=10**30)).status_code == 404


def test_login_redirect_keeps_the_whole_path_as_one_next_parameter(db):
    from urllib.parse import parse_qs, urlsplit

    response = Client().get("/deployments/%26next=//evil.example/?tab=events&x=1")
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == "/accounts/login/"
    query = parse_qs(location.query)
    assert list(query) == ["next"] and len(query["next"]) == 1, query
    assert query["next"][0].startswith("/deployments/&next") and query["next"][0].endswith("?tab=events&x=1")
