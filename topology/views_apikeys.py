"""The account's API keys page: list, create (the secret is shown once, on the answer to the
create), revoke. Each user sees and revokes only their own keys."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from topology.apikeys import create_api_key, revoke_api_key
from topology.models import ApiKey

NAME_MAX_LENGTH = ApiKey._meta.get_field("name").max_length


@require_http_methods(["GET", "POST"])
def api_key_list(request: HttpRequest) -> HttpResponse:
    created = secret = None
    error = None
    if request.method == "POST":
        name = request.POST.get("name", "").strip()
        if len(name) > NAME_MAX_LENGTH:
            error = f"The name is {len(name)} characters long; at most {NAME_MAX_LENGTH} fit."
        else:
            # Rendered, not redirected: the secret must not wait in the session for the next page.
            created, secret = create_api_key(request.user, name)
    keys = ApiKey.objects.filter(user=request.user)
    context = {
        "keys": keys,
        "created": created,
        "secret": secret,
        "error": error,
        "name_max": NAME_MAX_LENGTH,
    }
    response = render(request, "account/api_keys.html", context, status=400 if error else 200)
    if secret is not None:
        response["Cache-Control"] = "no-store"
    return response


@require_POST
def api_key_revoke(request: HttpRequest, key_pk: int) -> HttpResponse:
    key = get_object_or_404(ApiKey, pk=key_pk, user=request.user)
    revoke_api_key(key)
    return redirect("api-keys")
