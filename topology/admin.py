from django.contrib import admin, messages
from django.template.response import TemplateResponse

from topology.apikeys import revoke_api_key, set_new_credentials
from topology.models import ApiKey, SqlCommand, SqlQuery, SqlSource, Topology, TopologyVersion


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


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Create a key for any user (its secret is shown once, on the page after the save) and revoke.

    Only the name can change afterwards; the secret's hash never shows.
    """

    list_display = ("key_id", "name", "user", "created_at", "last_used_at", "revoked_at")
    list_filter = ("user",)
    search_fields = ("key_id", "name", "user__username")
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("user", "name")
        return ("key_id", "user", "name", "created_at", "last_used_at", "revoked_at")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return ("key_id", "user", "created_at", "last_used_at", "revoked_at")

    def save_model(self, request, obj, form, change):
        if not change:
            obj.name = obj.name.strip()
            # Held on the request for response_add only: never saved, never put in a message.
            request._new_api_key_secret = set_new_credentials(obj)
        super().save_model(request, obj, form, change)

    def response_add(self, request, obj, post_url_continue=None):
        secret = getattr(request, "_new_api_key_secret", None)
        if secret is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "key": obj,
            "secret": secret,
            "title": f"API key {obj.key_id} created",
        }
        response = TemplateResponse(request, "admin/topology/apikey/created.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke selected API keys")
    def revoke(self, request, queryset):
        revoked = sum(1 for key in queryset if revoke_api_key(key))
        self.message_user(request, f"Revoked {revoked} key(s).", messages.SUCCESS)


class _SqlCatalogAdmin(admin.ModelAdmin):
    """The SQL catalog is written by statements (processing/sqlengine), so the admin shows it:
    an edit here would part the catalog from the topologies and deployments behind it."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SqlSource)
class SqlSourceAdmin(_SqlCatalogAdmin):
    list_display = ("name", "kind", "owner", "query", "created_at")
    list_filter = ("kind", "owner")
    search_fields = ("name", "statement")
    readonly_fields = ("name", "kind", "owner", "query", "statement", "definition", "created_at")


@admin.register(SqlQuery)
class SqlQueryAdmin(_SqlCatalogAdmin):
    list_display = ("query_id", "sink_name", "topology", "owner", "created_at", "terminated_at")
    list_filter = ("owner",)
    search_fields = ("query_id", "statement", "sink_name")
    readonly_fields = (
        "query_id",
        "sink",
        "sink_name",
        "reads",
        "topology",
        "owner",
        "statement",
        "created_at",
        "terminated_at",
    )


@admin.register(SqlCommand)
class SqlCommandAdmin(_SqlCatalogAdmin):
    list_display = ("id", "command_id", "status", "owner", "created_at")
    search_fields = ("command_id", "statement")
    readonly_fields = ("command_id", "status", "message", "statement", "owner", "created_at")
