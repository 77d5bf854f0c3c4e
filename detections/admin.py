from django.contrib import admin

from cameras.admin_filters import ExactPayloadSearch, FormatFilter
from cameras.paginator import EstimatedCountPaginator
from detections.models import Detection


@admin.register(Detection)
class DetectionAdmin(ExactPayloadSearch, admin.ModelAdmin):
    list_display = ["text", "format", "camera", "created_at", "scheduled_at", "engine"]
    # Filters and searches that an index serves: exact payload, camera, format, time. A substring
    # search or a related-only camera filter would scan every detection ever stored.
    list_filter = [FormatFilter, "camera", "created_at"]
    list_select_related = ["camera"]
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    readonly_fields = [f.name for f in Detection._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
