from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from notify.alerts import alert_acknowledge
from notify.models import Alert, AlertRule


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "enabled", "camera", "zone", "to_zone", "seconds", "threshold_pct", "code"]
    list_filter = ["kind", "enabled"]
    search_fields = ["name", "code"]


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["rule", "key", "raised_at", "cleared_at", "acknowledged_at", "acknowledged_by"]
    list_filter = ["rule", ("cleared_at", admin.EmptyFieldListFilter), ("acknowledged_at", admin.EmptyFieldListFilter)]
    search_fields = ["=key"]
    readonly_fields = [f.name for f in Alert._meta.fields]
    actions = ["acknowledge"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Acknowledge")
    def acknowledge(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        for alert in queryset:
            alert_acknowledge(alert=alert, by=request.user.get_username())
        messages.info(request, f"{queryset.count()} alerts acknowledged.")
