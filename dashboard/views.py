"""The home page and the stack status page (dashboard views live in views_dashboards.py)."""

from django.shortcuts import render

from dashboard.health import collect_health


def home(request):
    return render(request, "home.html")


def status(request):
    health = collect_health()
    return render(request, "status.html", {"health": health})
