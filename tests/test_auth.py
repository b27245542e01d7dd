"""Login is required everywhere except the login page and the health endpoint."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():
    return get_user_model().objects.create_user("ada", password="lovelace-1815")


@pytest.fixture
def superuser():
    return get_user_model().objects.create_superuser("grace", "grace@example.invalid", "hopper-1906")


@pytest.mark.parametrize(
    "path", ["/", "/status/", "/topologies/", "/dashboards/", "/deployments/", "/admin/"]
)
def test_pages_redirect_anonymous_visitors_to_the_login_page(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_login_redirect_remembers_the_page_asked_for(client):
    response = client.get("/status/")
    assert response["Location"] == "/accounts/login/?next=/status/"


@pytest.mark.parametrize("path", ["/api/topologies/", "/api/deployments/", "/api/openapi.json"])
def test_api_answers_anonymous_callers_with_401_json(client, path):
    response = client.get(path)
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication required."}


def test_login_page_is_public_and_has_a_form(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert b'name="username"' in response.content and b'name="password"' in response.content


def test_logging_in_with_the_right_password_leads_to_the_page_asked_for(user):
    client = Client()
    response = client.post(
        "/accounts/login/", {"username": "ada", "password": "lovelace-1815", "next": "/status/"}
    )
    assert response.status_code == 302 and response["Location"] == "/status/"
    assert client.get("/").status_code == 200


def test_a_wrong_password_shows_an_error_and_does_not_log_in(client, user):
    response = client.post("/accounts/login/", {"username": "ada", "password": "wrong"})
    assert response.status_code == 200
    assert "didn't match" in response.content.decode()
    assert client.get("/").status_code == 302


def test_a_logged_in_user_sees_the_navigation_but_no_admin_link(client, user):
    client.force_login(user)
    page = client.get("/").content.decode()
    for label in ("Topologies", "Deployments", "Dashboards", "Status"):
        assert f">{label}</a>" in page
    assert ">Admin</a>" not in page


def test_a_regular_user_is_refused_by_the_admin(client, user):
    client.force_login(user)
    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_a_superuser_sees_the_admin_link_and_the_admin(client, superuser):
    client.force_login(superuser)
    assert ">Admin</a>" in client.get("/").content.decode()
    response = client.get("/admin/")
    assert response.status_code == 200
    assert b"Site administration" in response.content


def test_logging_out_ends_the_session(client, user):
    client.force_login(user)
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/").status_code == 302
