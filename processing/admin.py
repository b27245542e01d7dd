"""Deployments in the Django admin (staff only): status badges, filters, the supervisor's
actions (start, stop, restart, scale, upgrade: the last two take their argument from fields
next to the action menu), instances with heartbeat age and partitions, and the event log.

Every action goes through processing/actions.py, like the API.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from processing import actions, selectors
from processing.models import Deployment, DeploymentEvent, DeploymentInstance, Status
from topology.models import TopologyVersion

BADGE_COLOURS = {
    Status.PENDING: "#6b7280",
    Status.STARTING: "#2563eb",
    Status.RESTORING: "#7c3aed",
    Status.RUNNING: "#16a34a",
    Status.REBALANCING: "#d97706",
    Status.FAILED: "#dc2626",
    Status.STOPPED: "#374151",
}


def badge(status: str):
    return format_html(
        '<span class="weir-status weir-status-{}" style="background:{};color:#fff;padding:1px 8px;'
        'border-radius:8px;font-size:11px">{}</span>',
        status,
        BADGE_COLOURS.get(status, "#6b7280"),
        status,
    )


class ActionArguments(forms.Form):
    """The arguments of the scale and upgrade actions, shown next to the action menu."""

    instances = forms.IntegerField(required=False, min_value=1, max_value=32, label="instances (scale)")
    version = forms.IntegerField(required=False, min_value=1, label="version (upgrade)")
    confirm = forms.BooleanField(required=False, label="confirm new identity")


class DeploymentActionForm(ActionForm, ActionArguments):
    pass


class InstanceInline(admin.TabularInline):
    model = DeploymentInstance
    extra = 0
    can_delete = False
    fields = (
        "slot",
        "epoch",
        "status_badge",
        "heartbeat_age",
        "partition_list",
        "worker_host",
        "pid",
        "error",
    )
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="status")
    def status_badge(self, obj):
        return badge(obj.status)

    @admin.display(description="heartbeat age")
    def heartbeat_age(self, obj):
        if obj.heartbeat_at is None:
            return "never"
        return f"{(timezone.now() - obj.heartbeat_at).total_seconds():.0f} s"

    @admin.display(description="partitions")
    def partition_list(self, obj):
        return ", ".join(f"{t}[{p}]" for t, p in obj.partitions) or "none"


class EventInline(admin.TabularInline):
    model = DeploymentEvent
    extra = 0
    can_delete = False
    fields = ("created_at", "kind", "actor", "message")
    readonly_fields = fields
    ordering = ("-created_at", "-id")
    max_num = 0
    verbose_name_plural = "event log (newest first)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Deployment)
class DeploymentAdmin(admin.ModelAdmin):
    list_display = (
        "app_id",
        "topology_name",
        "version_number",
        "status_badge",
        "desired_state",
        "instances",
        "guarantee",
        "error_policy",
        "restart_count",
        "updated_at",
    )
    list_filter = ("status", "desired_state", "guarantee", "error_policy", "version__topology")
    search_fields = ("app_id", "version__topology__name", "last_error")
    action_form = DeploymentActionForm
    actions = ["start_selected", "stop_selected", "restart_selected", "scale_selected", "upgrade_selected"]
    inlines = [InstanceInline, EventInline]
    readonly_fields = (
        "status_badge",
        "status",
        "last_error",
        "restart_count",
        "last_restart_at",
        "parallelism_info",
        "retired_topic_list",
        "created_by",
        "created_at",
        "updated_at",
        "desired_state",
        "version",
        "app_id",
        "instances",
        "guarantee",
        "error_policy",
    )
    fields = (
        "app_id",
        "version",
        "status_badge",
        "desired_state",
        "instances",
        "parallelism_info",
        "guarantee",
        "error_policy",
        "last_error",
        "restart_count",
        "last_restart_at",
        "retired_topic_list",
        "created_by",
        "created_at",
        "updated_at",
    )

    def has_add_permission(self, request) -> bool:
        # Deploying goes through the API or the editor: it needs a compiled version and a choice of app id.
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("version__topology")

    @admin.display(description="topology", ordering="version__topology__name")
    def topology_name(self, obj):
        return obj.version.topology.name

    @admin.display(description="version", ordering="version__number")
    def version_number(self, obj):
        return obj.version.number

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        return badge(obj.status)

    @admin.display(description="parallelism")
    def parallelism_info(self, obj):
        info = selectors.parallelism(obj, timeout=selectors.PAGE_METADATA_TIMEOUT_S)
        parts = ", ".join(f"{t}: {n}" for t, n in sorted(info["source_partitions"].items())) or "unknown"
        if info.get("warning"):
            return format_html(
                'source partitions {}<br><strong style="color:#d97706">Warning: {}</strong>',
                parts,
                info["warning"],
            )
        return format_html(
            "source partitions {}{}", parts, f" ({info['error']})" if info.get("error") else ""
        )

    @admin.display(description="retired internal topics (safe to delete)")
    def retired_topic_list(self, obj):
        return format_html_join(", ", "{}", ((t,) for t in obj.retired_topics)) or "none"

    # --- actions --------------------------------------------------------------------------

    def _each(self, request, queryset, verb: str, fn) -> None:
        done = 0
        for deployment in queryset:
            try:
                fn(deployment)
                done += 1
            except actions.ActionError as exc:
                self.message_user(request, f"{deployment.app_id}: {exc.message}", messages.ERROR)
        if done:
            self.message_user(request, f"{verb} {done} deployment(s).", messages.SUCCESS)

    @admin.action(description="Start selected deployments")
    def start_selected(self, request, queryset):
        self._each(request, queryset, "Started", lambda d: actions.start(d, actor=request.user))

    @admin.action(description="Stop selected deployments")
    def stop_selected(self, request, queryset):
        self._each(request, queryset, "Stopped", lambda d: actions.stop(d, actor=request.user))

    @admin.action(description="Restart selected deployments")
    def restart_selected(self, request, queryset):
        self._each(request, queryset, "Restarted", lambda d: actions.restart(d, actor=request.user))

    @admin.action(description="Scale selected deployments to 'instances'")
    def scale_selected(self, request, queryset):
        form = ActionArguments(request.POST)
        if not form.is_valid() or not form.cleaned_data.get("instances"):
            self.message_user(
                request, "Scale: enter the number of instances (1-32) next to the action.", messages.ERROR
            )
            return
        n = form.cleaned_data["instances"]

        def scale_one(deployment):
            info = selectors.parallelism(deployment, timeout=selectors.PAGE_METADATA_TIMEOUT_S)
            actions.scale(deployment, n, actor=request.user, source_partitions=info["source_partitions"])
            warning = selectors.idle_instances_warning(n, info["source_partitions"])
            if warning:
                self.message_user(request, f"{deployment.app_id}: {warning}", messages.WARNING)

        self._each(request, queryset, f"Scaled to {n} instance(s):", scale_one)

    @admin.action(description="Upgrade selected deployments to 'version'")
    def upgrade_selected(self, request, queryset):
        form = ActionArguments(request.POST)
        if not form.is_valid() or not form.cleaned_data.get("version"):
            self.message_user(
                request, "Upgrade: enter the version number next to the action.", messages.ERROR
            )
            return
        number, confirm = form.cleaned_data["version"], bool(form.cleaned_data.get("confirm"))

        def upgrade_one(deployment):
            version = TopologyVersion.objects.filter(
                topology_id=deployment.version.topology_id, number=number
            ).first()
            if version is None:
                raise actions.ActionError(
                    f"topology {deployment.topology.name} has no version {number}", field="version"
                )
            actions.upgrade(deployment, version, actor=request.user, confirm=confirm)

        self._each(request, queryset, "Upgraded", upgrade_one)


@admin.register(DeploymentEvent)
class DeploymentEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "deployment", "kind", "actor", "message")
    list_filter = ("kind", "deployment")
    search_fields = ("message", "deployment__app_id")
    readonly_fields = ("deployment", "created_at", "actor", "kind", "message", "payload")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
