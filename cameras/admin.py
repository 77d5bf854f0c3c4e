import datetime as dt

from django import forms
from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.utils import timezone

from cameras.coverage import Coverage, coverage_text, slot_coverage
from cameras.models import Camera, CameraEvent, SlotHour, Snapshot, Zone
from cameras.paginator import EstimatedCountPaginator
from cameras.selectors import EMPTY_STATS, CaptureStats, camera_capture_stats
from cameras.services import EDITABLE, camera_save, cameras_set_enabled


class CameraForm(forms.ModelForm):
    # Write-only: the stored password is never rendered back into the page.
    password = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep the current password.",
    )
    clear_password = forms.BooleanField(required=False, help_text="Remove the stored password.")

    class Meta:
        model = Camera
        # Scheduling and health state are the system's, not the operator's.
        fields = ["name", *EDITABLE]

    def clean_password(self) -> str:
        value = self.cleaned_data.get("password") or ""
        if not value and self.instance.pk:
            return self.instance.password
        return value

    def save(self, commit: bool = True) -> Camera:
        if self.cleaned_data.get("clear_password"):
            self.instance.password = ""
        return super().save(commit=commit)


class CameraEventInline(admin.TabularInline):
    model = CameraEvent
    extra = 0
    can_delete = False
    readonly_fields = ["at", "previous", "status", "reason"]
    ordering = ["-at"]
    max_num = 0


class CameraChangeList(ChangeList):
    """Attaches capture statistics to the page's cameras with one query for the whole page."""

    def get_results(self, request) -> None:
        super().get_results(request)
        stats = camera_capture_stats(camera_ids=[c.pk for c in self.result_list])
        coverage = _coverage([c.pk for c in self.result_list])
        for camera in self.result_list:
            camera.capture_stats = stats.get(camera.pk, EMPTY_STATS)
            camera.slot_coverage = coverage.get(camera.name, Coverage())


def _coverage(camera_ids: list[int]) -> dict[str, Coverage]:
    until = dt.datetime.now(dt.UTC)
    return slot_coverage(since=until - dt.timedelta(hours=24), until=until, camera_ids=camera_ids).cameras


def _camera_coverage(camera: Camera) -> Coverage:
    cov = getattr(camera, "slot_coverage", None)
    if cov is None:  # the change page: one camera, one query
        cov = _coverage([camera.pk]).get(camera.name, Coverage()) if camera.pk else Coverage()
        camera.slot_coverage = cov
    return cov


def _stats(camera: Camera) -> CaptureStats:
    stats = getattr(camera, "capture_stats", None)
    if stats is None:  # the change page: one camera, one query
        stats = camera_capture_stats(camera_ids=[camera.pk]).get(camera.pk, EMPTY_STATS) if camera.pk else EMPTY_STATS
        camera.capture_stats = stats
    return stats


@admin.register(Camera)
class CameraAdmin(admin.ModelAdmin):
    form = CameraForm
    list_display = [
        "name",
        "url",
        "zone",
        "enabled",
        "status",
        "status_reason",
        "last_capture_at",
        "captures_ok",
        "captures_failed",
        "captures_skipped",
        "consecutive_failures",
        "capture_p50_ms",
        "capture_p95_ms",
        "success_ratio",
        "coverage_24h",
    ]
    list_filter = ["status", "enabled", "zone", "mode", "transport"]
    list_select_related = ["zone"]
    search_fields = ["name", "url"]
    readonly_fields = [
        "status",
        "status_since",
        "status_reason",
        "last_error",
        "last_capture_at",
        "captures_ok",
        "captures_failed",
        "captures_skipped",
        "consecutive_failures",
        "capture_p50_ms",
        "capture_p95_ms",
        "success_ratio",
        "slots_24h",
    ]
    actions = ["enable", "disable"]
    inlines = [CameraEventInline]

    def get_changelist(self, request, **kwargs) -> type[ChangeList]:
        return CameraChangeList

    def save_model(self, request, obj: Camera, form, change: bool) -> None:
        # The one write path: credentials split out, validated, and scheduled like any other camera.
        camera_save(camera=obj)

    @admin.display(description="status reason")
    def status_reason(self, camera: Camera) -> str:
        """Why the camera is in its status and since when, e.g. "offline since 12:03:04: timeout: ..."."""
        if camera.status == Camera.Status.NEW:
            return "no capture yet"
        since = f" since {timezone.localtime(camera.status_since):%Y-%m-%d %H:%M:%S}" if camera.status_since else ""
        reason = f": {camera.last_error}" if camera.last_error and camera.status != Camera.Status.ONLINE else ""
        return f"{camera.status}{since}{reason}"

    @admin.display(description="capture p50 ms")
    def capture_p50_ms(self, camera: Camera) -> float | None:
        return _stats(camera).capture_p50_ms

    @admin.display(description="capture p95 ms")
    def capture_p95_ms(self, camera: Camera) -> float | None:
        return _stats(camera).capture_p95_ms

    @admin.display(description="success ratio (last 100)")
    def success_ratio(self, camera: Camera) -> float | None:
        return _stats(camera).success_ratio

    @admin.display(description="stored, last 24 h")
    def coverage_24h(self, camera: Camera) -> str:
        cov = _camera_coverage(camera).coverage
        return "-" if cov is None else f"{cov * 100:.1f}%"

    @admin.display(description="due slots, last 24 h")
    def slots_24h(self, camera: Camera) -> str:
        return coverage_text(_camera_coverage(camera))

    @admin.action(description="Enable selected cameras")
    def enable(self, request, queryset) -> None:
        n = cameras_set_enabled(camera_ids=queryset.values_list("pk", flat=True), enabled=True)
        self.message_user(request, f"{n} cameras enabled.")

    @admin.action(description="Disable selected cameras")
    def disable(self, request, queryset) -> None:
        n = cameras_set_enabled(camera_ids=queryset.values_list("pk", flat=True), enabled=False)
        self.message_user(request, f"{n} cameras disabled.")


@admin.register(Snapshot)
class SnapshotAdmin(admin.ModelAdmin):
    list_display = [
        "camera",
        "scheduled_at",
        "status",
        "quiet",
        "error",
        "capture_ms",
        "decode_ms",
        "width",
        "height",
        "bytes",
    ]
    # No filter that asks the table for its distinct values (error, related-only camera) and no
    # date hierarchy: each would scan every snapshot ever stored. Camera choices come from cameras.
    list_filter = ["status", "quiet", "camera", "scheduled_at"]
    list_select_related = ["camera"]
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    raw_id_fields = ["camera"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Zone)
class ZoneAdmin(admin.ModelAdmin):
    list_display = ["name", "description"]
    search_fields = ["name"]


@admin.register(CameraEvent)
class CameraEventAdmin(admin.ModelAdmin):
    list_display = ["camera", "at", "previous", "status", "reason"]
    list_filter = ["status", ("camera", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["camera"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(SlotHour)
class SlotHourAdmin(admin.ModelAdmin):
    """How due slots ended, per camera and hour: where coverage was lost, and why."""

    list_display = ["camera", "hour", "outcome", "reason", "slots"]
    list_filter = ["outcome", "reason", "camera", "hour"]
    list_select_related = ["camera"]
    raw_id_fields = ["camera"]
    ordering = ["-hour", "camera"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
