"""API keys: made in the UI, the admin and the command line; the secret is shown once and
stored only as a hash; revoking takes effect at once."""

import re
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from tests.topology.conftest import logged_in_client
from topology import apikeys
from topology.models import ApiKey

pytestmark = pytest.mark.django_db

KEY_LINE = re.compile(r"^(WK[A-Z2-9]{14}):([A-Za-z0-9_-]{48})$")


# --- the key itself ---------------------------------------------------------------------------


def test_a_new_key_stores_only_a_hash_of_its_secret(alice):
    key, secret = apikeys.create_api_key(alice, "  nightly export ")
    stored = ApiKey.objects.get(pk=key.pk)
    assert KEY_LINE.match(f"{stored.key_id}:{secret}")
    assert stored.name == "nightly export"
    assert secret not in stored.secret_hash and stored.secret_hash == apikeys.hash_secret(secret)
    assert not any(secret in str(value) for value in ApiKey.objects.values().get(pk=key.pk).values())


def test_the_right_secret_authenticates_and_marks_the_key_used(alice):
    key, secret = apikeys.create_api_key(alice)
    assert key.last_used_at is None
    found = apikeys.authenticate_key(key.key_id, secret)
    assert found is not None and found.user == alice
    assert ApiKey.objects.get(pk=key.pk).last_used_at is not None


def test_last_used_is_written_at_most_once_a_minute(alice):
    key, secret = apikeys.create_api_key(alice)
    apikeys.authenticate_key(key.key_id, secret)
    first = ApiKey.objects.get(pk=key.pk).last_used_at
    apikeys.authenticate_key(key.key_id, secret)
    assert ApiKey.objects.get(pk=key.pk).last_used_at == first
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=first - timedelta(minutes=2))
    apikeys.authenticate_key(key.key_id, secret)
    assert ApiKey.objects.get(pk=key.pk).last_used_at > first


def test_a_wrong_secret_an_unknown_key_a_revoked_key_and_an_inactive_user_do_not_authenticate(alice, bob):
    key, secret = apikeys.create_api_key(alice)
    assert apikeys.authenticate_key(key.key_id, secret + "x") is None
    assert apikeys.authenticate_key("WKUNKNOWNUNKNOWN", secret) is None
    assert apikeys.authenticate_key(key.key_id, "") is None
    assert apikeys.revoke_api_key(key) is True
    assert apikeys.revoke_api_key(key) is False
    assert apikeys.authenticate_key(key.key_id, secret) is None
    bobs, bobs_secret = apikeys.create_api_key(bob)
    bob.is_active = False
    bob.save()
    assert apikeys.authenticate_key(bobs.key_id, bobs_secret) is None


@pytest.mark.parametrize(
    ("header", "credentials"),
    [("Bearer abc", None), ("Basic QUJDOnNlYzpyZXQ=", ("ABC", "sec:ret")), ("basic  QUI6Qw== ", ("AB", "C"))],
)
def test_basic_credentials_are_read_from_the_header(header, credentials):
    assert apikeys.basic_credentials(header) == credentials


@pytest.mark.parametrize("header", ["Basic !!!", "Basic QUJD", "Basic //79"])
def test_unreadable_basic_credentials_are_invalid_not_a_crash(header):
    with pytest.raises(apikeys.InvalidApiKey):
        apikeys.basic_credentials(header)


# --- the command line -------------------------------------------------------------------------


def test_create_api_key_prints_key_and_secret_as_its_last_line(alice, capsys):
    call_command("create_api_key", "alice", "--name", "ci")
    last = capsys.readouterr().out.strip().splitlines()[-1]
    match = KEY_LINE.match(last)
    assert match, last
    key = ApiKey.objects.get(key_id=match.group(1))
    assert key.user == alice and key.name == "ci"
    assert apikeys.authenticate_key(match.group(1), match.group(2)) == key


def test_create_api_key_refuses_an_unknown_user_by_name():
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        call_command("create_api_key", "nobody")
    assert not ApiKey.objects.exists()


# --- the account page -------------------------------------------------------------------------


def test_the_account_menu_links_to_the_keys_page(api):
    assert b'href="/account/api-keys/"' in api.get("/topologies/").content


def test_creating_a_key_on_the_page_shows_its_secret_once(api, alice):
    response = api.post("/account/api-keys/", {"name": "laptop"})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    key = ApiKey.objects.get(user=alice)
    page = response.content.decode()
    secret = re.search(rf"{key.key_id}:([A-Za-z0-9_-]{{48}})", page).group(1)
    assert apikeys.authenticate_key(key.key_id, secret) is not None
    again = api.get("/account/api-keys/").content.decode()
    assert key.key_id in again and "laptop" in again and secret not in again


def test_the_page_lists_only_ones_own_keys(api, alice, bob):
    apikeys.create_api_key(alice, "alices key")
    bobs, _ = apikeys.create_api_key(bob, "bobs key")
    page = api.get("/account/api-keys/").content.decode()
    assert "alices key" in page and "bobs key" not in page and bobs.key_id not in page


def test_a_key_is_revoked_from_the_page_and_stops_working(api, alice):
    key, secret = apikeys.create_api_key(alice)
    response = api.post(f"/account/api-keys/{key.pk}/revoke/")
    assert response.status_code == 302
    assert ApiKey.objects.get(pk=key.pk).is_revoked
    assert apikeys.authenticate_key(key.key_id, secret) is None
    assert "revoked" in api.get("/account/api-keys/").content.decode()


def test_someone_elses_key_cannot_be_revoked(api, bob):
    bobs, _ = apikeys.create_api_key(bob)
    assert api.post(f"/account/api-keys/{bobs.pk}/revoke/").status_code == 404
    assert not ApiKey.objects.get(pk=bobs.pk).is_revoked


def test_the_page_needs_the_csrf_token_and_a_login(alice):
    no_token = Client(enforce_csrf_checks=True)
    no_token.force_login(alice)
    assert no_token.post("/account/api-keys/", {"name": "x"}).status_code == 403
    assert Client().get("/account/api-keys/").status_code == 302
    assert not ApiKey.objects.exists()


def test_a_too_long_name_is_refused_with_its_length(api):
    response = api.post("/account/api-keys/", {"name": "n" * 101})
    assert response.status_code == 400 and "101 characters" in response.content.decode()
    assert not ApiKey.objects.exists()


# --- the admin --------------------------------------------------------------------------------


@pytest.fixture
def admin_client_(django_user_model):
    root = django_user_model.objects.create_superuser("root", "root@example.com", None)
    return logged_in_client(root)


def test_the_admin_creates_a_key_and_shows_the_secret_once(admin_client_, alice):
    response = admin_client_.post("/admin/topology/apikey/add/", {"user": alice.pk, "name": "from admin"})
    assert response.status_code == 200, response.content[:500]
    key = ApiKey.objects.get(user=alice)
    page = response.content.decode()
    secret = re.search(rf"{key.key_id}:([A-Za-z0-9_-]{{48}})", page).group(1)
    assert apikeys.authenticate_key(key.key_id, secret) == key
    change = admin_client_.get(f"/admin/topology/apikey/{key.pk}/change/").content.decode()
    assert key.key_id in change and secret not in change and key.secret_hash not in change
    assert secret not in admin_client_.get("/admin/topology/apikey/").content.decode()


def test_the_admin_revokes_selected_keys(admin_client_, alice):
    key, secret = apikeys.create_api_key(alice)
    response = admin_client_.post(
        "/admin/topology/apikey/", {"action": "revoke", "_selected_action": [key.pk]}, follow=True
    )
    assert "Revoked 1 key(s)." in response.content.decode()
    assert apikeys.authenticate_key(key.key_id, secret) is None
