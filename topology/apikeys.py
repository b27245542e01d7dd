"""API keys: HTTP Basic credentials for scripts and ksqlDB clients, per user.

A key is a public ``key_id`` (the Basic user name) and a secret (the Basic password). The
secret is 48 random URL-safe characters (288 bits), so unlike a password it cannot be guessed
from a dictionary: one SHA-256 digest is as strong as a slow hash here, and it keeps a check
per request at microseconds (Django's PBKDF2 costs ~0.25 s per call, on every API request).
Digests are compared in constant time. The secret is shown once, when the key is made.

Authentication reads the key row on every request, so a revoked key or a deactivated user
stops working at once. ``ApiKeyAuth`` is the django-ninja auth class that ``/api/`` tries
before the session (config/api.py); ``/ksqldb/`` calls ``authenticate_request`` directly.

Browsers can remember Basic credentials and send them with requests another site starts, so
a write authenticated by a key is refused when it carries an ``Origin`` other than Weir's own
(``cross_site_refusal``). Scripts and ksqlDB clients send no ``Origin``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from ninja.errors import AuthenticationError, HttpError
from ninja.security import HttpBasicAuth

from topology.models import ApiKey

REALM = "weir"
CHALLENGE = f'Basic realm="{REALM}"'
# Key ids look like Confluent Cloud's (16 upper-case letters and digits), which ksqlDB
# clients and their docs expect; no 0/O/1/I so they read back without mistakes.
KEY_ID_PREFIX = "WK"
KEY_ID_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
KEY_ID_LENGTH = 16
SECRET_BYTES = 36
# last_used_at is for people ("was this key used this month?"): writing it at most once a
# minute keeps a busy script from turning every read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
INVALID_CREDENTIALS = "Unknown or revoked API key, or wrong secret."


class InvalidApiKey(AuthenticationError):
    """Basic credentials were sent and are not a live key: 401 with a Basic challenge."""

    def __init__(self, message: str = INVALID_CREDENTIALS) -> None:
        super().__init__(401, message)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_key_id() -> str:
    body = "".join(secrets.choice(KEY_ID_ALPHABET) for _ in range(KEY_ID_LENGTH - len(KEY_ID_PREFIX)))
    return KEY_ID_PREFIX + body


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)  # never holds ':', the Basic separator


# --- actions ---------------------------------------------------------------------------------


def create_api_key(user: Any, name: str = "") -> tuple[ApiKey, str]:
    """Make a key for ``user``; returns it with its secret, which is stored nowhere."""
    key = ApiKey(user=user, name=name.strip())
    secret = set_new_credentials(key)
    key.save()
    return key, secret


def set_new_credentials(key: ApiKey) -> str:
    """Give an unsaved key a fresh id and secret hash; returns the secret (the admin's add uses it)."""
    secret = new_secret()
    key_id = new_key_id()
    while ApiKey.objects.filter(key_id=key_id).exists():  # 32^14 ids: a repeat is theoretical
        key_id = new_key_id()
    key.key_id, key.secret_hash = key_id, hash_secret(secret)
    return secret


def revoke_api_key(key: ApiKey) -> bool:
    """Revoke ``key``; False when it was revoked already. Takes effect on the next request."""
    now = timezone.now()
    revoked = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=now) == 1
    if revoked:
        key.revoked_at = now
    return revoked


# --- authentication --------------------------------------------------------------------------


def authenticate_key(key_id: str, secret: str) -> ApiKey | None:
    """The live key these credentials name, with its user loaded; None for anything else."""
    key = (
        ApiKey.objects.select_related("user")
        .filter(key_id=key_id, revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    # Compare against something even for an unknown id, so timing says little about ids.
    expected = key.secret_hash if key is not None else hash_secret("")
    if not hmac.compare_digest(expected, hash_secret(secret)) or key is None:
        return None
    _touch(key)
    return key


def basic_credentials(header: str) -> tuple[str, str] | None:
    """(user, password) from an ``Authorization`` value; None when it is not Basic at all.

    Raises ``InvalidApiKey`` when it says Basic but its credentials cannot be read.
    """
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidApiKey(
            "The Authorization header is not valid HTTP Basic credentials (base64 of KEY:SECRET)."
        ) from None
    user, colon, password = decoded.partition(":")
    if not colon:
        raise InvalidApiKey("The Basic credentials have no ':' between the key and the secret.")
    return user, password


def authenticate_request(request: HttpRequest) -> ApiKey | None:
    """The key of a request with Basic credentials; None when it sent none.

    Raises ``InvalidApiKey`` for credentials that are not a live key. On success the request's
    ``user`` becomes the key's owner (views keep using ``request.user``) and ``api_key`` the key.
    """
    header = request.headers.get("Authorization")
    if not header:
        return None
    credentials = basic_credentials(header)
    if credentials is None:
        return None
    key = authenticate_key(*credentials)
    if key is None:
        raise InvalidApiKey()
    request.user = key.user
    request.api_key = key  # type: ignore[attr-defined]
    return key


def has_basic_credentials(request: HttpRequest) -> bool:
    return request.headers.get("Authorization", "").strip().lower().startswith("basic ")


def cross_site_refusal(request: HttpRequest) -> str | None:
    """Why a key-authenticated write from another site's page is refused; None when it is not."""
    if request.method in SAFE_METHODS:
        return None
    origin = request.headers.get("Origin")
    if origin is None:
        return None
    own = f"{request.scheme}://{request.get_host()}"
    if origin == own or origin in settings.CSRF_TRUSTED_ORIGINS:
        return None
    return (
        f"A request from {origin} may not use API key credentials to change anything here "
        "(a browser may have remembered them); send it without an Origin header, from a script."
    )


class ApiKeyAuth(HttpBasicAuth):
    """django-ninja auth: ``Authorization: Basic base64(KEY:SECRET)``.

    No Basic header: None, so the next auth class (the session, with its CSRF check) decides.
    A Basic header that is not a live key: 401 with ``WWW-Authenticate`` (config/api.py), never
    a fall back to the session. Key-authenticated requests need no CSRF token: no browser sends
    them on its own, and ``cross_site_refusal`` covers the one that remembered credentials.
    """

    def __call__(self, request: HttpRequest) -> Any | None:
        key = authenticate_request(request)
        if key is None:
            return None
        refusal = cross_site_refusal(request)
        if refusal is not None:
            raise HttpError(403, refusal)
        return key.user

    def authenticate(self, request: HttpRequest, username: str, password: str) -> Any | None:
        key = authenticate_key(username, password)
        return key.user if key is not None else None


def _touch(key: ApiKey) -> None:
    now = timezone.now()
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    if ApiKey.objects.filter(pk=key.pk).filter(stale).update(last_used_at=now):
        key.last_used_at = now
