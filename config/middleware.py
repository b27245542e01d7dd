"""Every page and API needs a logged-in user, except login, health and the ksqlDB endpoints.

A request to ``/api/`` with HTTP Basic credentials (an API key) goes on to the API, which
judges them (topology/apikeys.py); ``/ksqldb/`` authenticates every request itself.
"""

from django.contrib.auth.views import redirect_to_login
from django.http import JsonResponse

from topology.apikeys import has_basic_credentials

PUBLIC_PREFIXES = ("/accounts/login/", "/api/health", "/static/", "/admin/login/", "/ksqldb/")


class LoginRequiredMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated or request.path.startswith(PUBLIC_PREFIXES):
            return self.get_response(request)
        if request.path.startswith("/api/"):
            if has_basic_credentials(request):
                return self.get_response(request)
            return JsonResponse({"detail": "Authentication required."}, status=401)
        # Encoded, so a path holding "&next=..." cannot add a second next parameter, and with
        # its query string, so the user lands where they were going.
        return redirect_to_login(request.get_full_path())
