from django.urls import path

from processing import views

urlpatterns: list = [
    path("deployments/", views.deployment_list, name="deployment-list"),
    path("deployments/<int:deployment_id>/", views.deployment_detail, name="deployment-detail"),
]
