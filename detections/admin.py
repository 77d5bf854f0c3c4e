from django.contrib import admin

from detections.models import Detection


@admin.register(Detection)
class DetectionAdmin(admin.ModelAdmin):
    list_display = ["text", "format", "camera", "created_at", "scheduled_at", "engine"]
    list_filter = ["format", ("camera", admin.RelatedOnlyFieldListFilter), "created_at"]
    search_fields = ["text"]
    list_select_related = ["camera"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    readonly_fields = [f.name for f in Detection._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
