"""Every page and API needs a logged-in user, except login and health."""

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import redirect

PUBLIC_PREFIXES = ("/accounts/login/", "/api/health", "/static/", "/admin/login/")


class LoginRequiredMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated or request.path.startswith(PUBLIC_PREFIXES):
            return self.get_response(request)
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": "Authentication required."}, status=401)
        return redirect(f"{settings.LOGIN_URL}?next={request.path}")
