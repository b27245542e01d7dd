from django.urls import path

from topology import views

urlpatterns: list = [
    path("topologies/", views.topology_list, name="topology-list"),
    path("topologies/<int:topology_id>/edit/", views.topology_editor, name="topology-editor"),
]
