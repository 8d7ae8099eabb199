"""Read-only Django admin view of the trail (the real screens are /audit/ and the history tabs)."""

from django.contrib import admin

from qcare.audit.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Look, never touch: no add, change or delete."""

    list_display = ("seq", "at", "actor_name", "action", "content_type", "object_repr")
    list_filter = ("action",)
    search_fields = ("object_repr", "actor_name", "reason", "request_id")
    ordering = ("-seq",)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
