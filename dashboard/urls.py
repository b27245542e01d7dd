from django.urls import path

from dashboard import views, views_dashboards

urlpatterns: list = [
    path("", views.home, name="home"),
    path("status/", views.status, name="status"),
    path("dashboards/", views_dashboards.dashboard_list, name="dashboard-list"),
    path("dashboards/<int:dashboard_id>/", views_dashboards.dashboard_detail, name="dashboard-detail"),
    path(
        "deployments/<int:deployment_id>/dashboard/",
        views_dashboards.deployment_dashboard,
        name="deployment-dashboard",
    ),
    path(
        "deployments/<int:deployment_id>/monitor/",
        views_dashboards.deployment_monitor,
        name="deployment-monitor",
    ),
]
