from django.contrib import admin

from topology.models import Topology, TopologyVersion


class ReadOnlyVersionInline(admin.TabularInline):
    model = TopologyVersion
    fields = ("number", "plan_hash", "message", "created_by", "created_at")
    readonly_fields = fields
    extra = 0
    show_change_link = True
    ordering = ("-number",)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Topology)
class TopologyAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "version_count", "updated_at")
    list_filter = ("owner",)
    search_fields = ("name", "description")
    readonly_fields = ("draft_document", "created_at", "updated_at")
    inlines = [ReadOnlyVersionInline]

    @admin.display(description="versions")
    def version_count(self, topology: Topology) -> int:
        return topology.versions.count()


@admin.register(TopologyVersion)
class TopologyVersionAdmin(admin.ModelAdmin):
    """Versions are immutable: deployments point at them, so the admin only shows them."""

    list_display = ("topology", "number", "plan_hash", "created_by", "created_at")
    list_filter = ("topology",)
    search_fields = ("topology__name", "plan_hash", "message")
    readonly_fields = (
        "topology",
        "number",
        "plan_hash",
        "message",
        "created_by",
        "created_at",
        "document",
        "plan",
    )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
