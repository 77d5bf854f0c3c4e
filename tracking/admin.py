from django.contrib import admin

from cameras.admin_filters import ExactPayloadSearch, FormatFilter
from cameras.paginator import EstimatedCountPaginator
from tracking.models import Sighting


class OpenFilter(admin.SimpleListFilter):
    title = "open"
    parameter_name = "open"

    def lookups(self, request, model_admin) -> list[tuple[str, str]]:
        return [("yes", "in view now"), ("no", "ended")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(ended_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(ended_at__isnull=False)
        return queryset


@admin.register(Sighting)
class SightingAdmin(ExactPayloadSearch, admin.ModelAdmin):
    list_display = ["text", "format", "camera", "zone", "first_seen", "last_seen", "ended_at", "frames"]
    list_filter = [OpenFilter, "zone", "camera", FormatFilter, "first_seen"]
    list_select_related = ["camera", "zone"]
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    readonly_fields = [f.name for f in Sighting._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
