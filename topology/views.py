"""Editor pages. Thin: the editor itself is static JS talking to /api/topologies."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.views.decorators.csrf import ensure_csrf_cookie

from topology.models import Topology


def _base_template() -> str:
    # templates/base.html belongs to the foundation; until it exists the editor pages stand alone.
    try:
        get_template("base.html")
    except TemplateDoesNotExist:
        return "editor/standalone_base.html"
    return "base.html"


def _visible_topologies(request: HttpRequest):
    manager = Topology.objects
    visible_to = getattr(manager, "visible_to", None)
    return visible_to(request.user) if visible_to else manager.all()


@ensure_csrf_cookie
def topology_list(request: HttpRequest) -> HttpResponse:
    topologies = _visible_topologies(request).prefetch_related("versions")
    return render(request, "editor/list.html", {"base_template": _base_template(), "topologies": topologies})


@ensure_csrf_cookie
def topology_editor(request: HttpRequest, topology_id: int) -> HttpResponse:
    topology = get_object_or_404(_visible_topologies(request), pk=topology_id)
    return render(request, "editor/editor.html", {"base_template": _base_template(), "topology": topology})
