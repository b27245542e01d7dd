"""The one django-ninja API. Each app adds its router here; OpenAPI at /api/openapi.json."""

from ninja import NinjaAPI
from ninja.security import django_auth

api = NinjaAPI(title="Weir", version="1", urls_namespace="api", auth=django_auth)

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
