"""Read-mostly admin views of the outbox and the scheduler (screens for daily use are in views)."""

from django.contrib import admin

from qcare.notifications.models import JobRun, Notification, WorkerHeartbeat


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "channel",
        "recipient_name",
        "recipient_email",
        "subject",
        "status",
        "attempts",
        "created_at",
        "delivered_at",
        "read_at",
    )
    list_filter = ("channel", "status", "template")
    search_fields = ("recipient_email", "recipient_name", "subject", "dedupe_key")
    readonly_fields = [f.name for f in Notification._meta.fields]

    def has_add_permission(self, request):
        return False  # notifications are queued by services, never typed in


@admin.register(JobRun)
class JobRunAdmin(admin.ModelAdmin):
    list_display = ("job_name", "slot", "status", "worker", "started_at", "finished_at")
    list_filter = ("job_name", "status")
    readonly_fields = [f.name for f in JobRun._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ("name", "started_at", "last_seen_at", "sent_total")
