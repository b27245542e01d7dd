from django.urls import path

from dashboard.consumers import LiveConsumer

websocket_urlpatterns: list = []
websocket_urlpatterns += [path("ws/live/", LiveConsumer.as_asgi())]

from dashboard.diagnostics import DiagnosticsConsumer  # noqa: E402

websocket_urlpatterns += [path("ws/diagnostics/<str:token>/", DiagnosticsConsumer.as_asgi())]
