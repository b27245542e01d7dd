websocket_urlpatterns: list = []

from django.urls import path  # noqa: E402

from dashboard.diagnostics import DiagnosticsConsumer  # noqa: E402

websocket_urlpatterns += [path("ws/diagnostics/<str:token>/", DiagnosticsConsumer.as_asgi())]
