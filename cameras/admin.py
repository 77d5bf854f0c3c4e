from django import forms
from django.contrib import admin

from cameras.models import Camera, CameraEvent, Snapshot


class CameraForm(forms.ModelForm):
    # Write-only: the stored password is never rendered back into the page.
    password = forms.CharField(
        required=False, widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep the current password.",
    )
    clear_password = forms.BooleanField(required=False, help_text="Remove the stored password.")

    class Meta:
        model = Camera
        exclude = ["next_run_at", "lease_until"]

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


@admin.register(Camera)
class CameraAdmin(admin.ModelAdmin):
    form = CameraForm
    list_display = [
        "name", "url", "enabled", "status", "status_since", "last_capture_at", "captures_ok", "captures_failed",
        "captures_skipped", "consecutive_failures", "last_error",
    ]
    list_filter = ["status", "enabled", "transport"]
    search_fields = ["name", "url"]
    readonly_fields = [
        "status", "status_since", "last_error", "last_capture_at", "captures_ok", "captures_failed",
        "captures_skipped", "consecutive_failures",
    ]
    actions = ["enable", "disable"]
    inlines = [CameraEventInline]

    @admin.action(description="Enable selected cameras")
    def enable(self, request, queryset) -> None:
        n = queryset.update(enabled=True)
        self.message_user(request, f"{n} cameras enabled.")

    @admin.action(description="Disable selected cameras")
    def disable(self, request, queryset) -> None:
        n = queryset.update(enabled=False, lease_until=None)
        self.message_user(request, f"{n} cameras disabled.")


@admin.register(Snapshot)
class SnapshotAdmin(admin.ModelAdmin):
    list_display = ["camera", "scheduled_at", "status", "error", "capture_ms", "decode_ms", "width", "height", "bytes"]
    list_filter = ["status", "error", ("camera", admin.RelatedOnlyFieldListFilter), "scheduled_at"]
    list_select_related = ["camera"]
    date_hierarchy = "scheduled_at"
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(CameraEvent)
class CameraEventAdmin(admin.ModelAdmin):
    list_display = ["camera", "at", "previous", "status", "reason"]
    list_filter = ["status", ("camera", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["camera"]

    def has_add_permission(self, request) -> bool:
        return False
