"""Editor pages. Thin: the editor itself is static JS talking to /api/topologies."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.csrf import ensure_csrf_cookie

from topology.models import Topology


@ensure_csrf_cookie
def topology_list(request: HttpRequest) -> HttpResponse:
    topologies = Topology.objects.visible_to(request.user).prefetch_related("versions")
    return render(request, "editor/list.html", {"topologies": topologies})


@ensure_csrf_cookie
def topology_editor(request: HttpRequest, topology_id: int) -> HttpResponse:
    topology = get_object_or_404(Topology.objects.visible_to(request.user), pk=topology_id)
    return render(request, "editor/editor.html", {"topology": topology})
