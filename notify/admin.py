from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from notify.models import SUBSCRIPTION_FIELDS, WebhookDelivery, WebhookSubscription, secret_generate, validate_secret
from notify.webhooks import deliveries_resend


class WebhookSubscriptionForm(forms.ModelForm):
    # Write-only: the stored secret is never rendered back into the page.
    secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep the current secret (a new subscription gets a generated one, shown once).",
    )

    class Meta:
        model = WebhookSubscription
        fields = list(SUBSCRIPTION_FIELDS)

    def clean_secret(self) -> str:
        value = (self.cleaned_data.get("secret") or "").strip()
        if not value:
            # Kept, or generated for a new one (and then shown once by the admin).
            self.secret_generated = not self.instance.pk
            return self.instance.secret if self.instance.pk else secret_generate()
        validate_secret(value)
        self.secret_generated = False
        return value


def _secret_message(request: HttpRequest, subscription: WebhookSubscription) -> None:
    messages.warning(
        request,
        f"Secret of {subscription.name}, shown this once (copy it to the receiver): {subscription.secret}",
    )


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    form = WebhookSubscriptionForm
    list_display = ["name", "url", "enabled", "event_types", "camera", "zone", "code_prefix", "cooldown_s"]
    list_filter = ["enabled"]
    search_fields = ["name", "url"]
    readonly_fields = ["created_at"]
    actions = ["rotate_secret"]

    def save_model(self, request: HttpRequest, obj: WebhookSubscription, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if getattr(form, "secret_generated", False):
            _secret_message(request, obj)

    @admin.action(description="Rotate secret (each new one shown once)")
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[WebhookSubscription]) -> None:
        for subscription in queryset:
            subscription.secret = secret_generate()
            subscription.save(update_fields=["secret"])
            _secret_message(request, subscription)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "subscription",
        "event_type",
        "event_id",
        "status",
        "attempts",
        "next_attempt_at",
        "last_status_code",
        "last_error",
        "created_at",
        "delivered_at",
    ]
    list_filter = ["status", "subscription"]
    list_select_related = ["subscription"]
    search_fields = ["=event_id"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    actions = ["resend"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # deliveries come from events only

    def has_change_permission(self, request: HttpRequest, obj: WebhookDelivery | None = None) -> bool:
        return False  # a read-only record; "re-send" is the one thing to do with one

    @admin.action(description="Re-send (failed and dead ones, with a fresh schedule)")
    def resend(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        count = deliveries_resend(delivery_ids=queryset.values_list("id", flat=True))
        messages.info(request, f"{count} deliveries queued again.")


from notify import alert_admin  # noqa: E402, F401  (alert rules and alerts)
