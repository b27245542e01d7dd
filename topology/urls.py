from django.urls import path

from topology import views, views_apikeys

urlpatterns: list = [
    path("topologies/", views.topology_list, name="topology-list"),
    path("topologies/<int:topology_id>/edit/", views.topology_editor, name="topology-editor"),
    path("account/api-keys/", views_apikeys.api_key_list, name="api-keys"),
    path("account/api-keys/<int:key_pk>/revoke/", views_apikeys.api_key_revoke, name="api-key-revoke"),
]
