"""The one django-ninja API. Each app adds its router here; OpenAPI at /api/openapi.json.

Callers authenticate with an API key (HTTP Basic, KEY:SECRET; scripts) or with the session
(the browser, with Django's CSRF token on writes). The key is tried first: a request that
sends Basic credentials is judged by them alone and never falls back to the session.
"""

from ninja import NinjaAPI
from ninja.security import django_auth

from topology.apikeys import CHALLENGE, ApiKeyAuth, InvalidApiKey

api = NinjaAPI(title="Weir", version="1", urls_namespace="api", auth=[ApiKeyAuth(), django_auth])


@api.exception_handler(InvalidApiKey)
def invalid_api_key(request, exc: InvalidApiKey):
    response = api.create_response(request, {"detail": exc.message}, status=401)
    response["WWW-Authenticate"] = CHALLENGE
    return response


from dashboard.api import router as dashboard_router  # noqa: E402
from processing.api import router as processing_router  # noqa: E402
from topology.api import router as topology_router  # noqa: E402

api.add_router("", dashboard_router)
api.add_router("/topologies", topology_router)
api.add_router("/deployments", processing_router)

from dashboard.api_dashboards import router as dashboards_router  # noqa: E402

api.add_router("/dashboards", dashboards_router)

from processing.api_preview import router as preview_router  # noqa: E402

api.add_router("/preview", preview_router)

from topology.api import install_exception_handlers  # noqa: E402

# Malformed JSON, wrong types, unknown fields and oversized bodies answer 4xx naming the place.
install_exception_handlers(api)
