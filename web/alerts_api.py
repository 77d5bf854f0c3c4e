"""Alerts and alert rules over the API: list (open first), acknowledge; rules and acknowledgements for operators."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from cameras.models import Camera, Zone
from notify.alerts import alert_acknowledge
from notify.models import Alert, AlertRule
from web.permissions import RolePermissions


class AlertSerializer(serializers.ModelSerializer):
    rule = serializers.CharField(source="rule.name")
    kind = serializers.CharField(source="rule.kind")
    open = serializers.SerializerMethodField()

    class Meta:
        model = Alert
        fields = [
            "id",
            "rule",
            "kind",
            "key",
            "detail",
            "open",
            "raised_at",
            "cleared_at",
            "cleared_reason",
            "acknowledged_at",
            "acknowledged_by",
        ]

    def get_open(self, obj: Alert) -> bool:
        return obj.cleared_at is None


class AlertViewSet(viewsets.ReadOnlyModelViewSet):
    """Open alerts first, newest first; ``?open=true`` for open ones only."""

    serializer_class = AlertSerializer
    permission_classes = [RolePermissions]  # acknowledging is an operator's

    def get_queryset(self):
        qs = Alert.objects.select_related("rule")
        if self.request.query_params.get("open", "").lower() in ("1", "true", "yes"):
            qs = qs.filter(cleared_at__isnull=True)
        # Open ones (no cleared_at) first: nulls sort first in a descending order on both databases
        # only with an explicit nulls_first.
        from django.db.models import F

        return qs.order_by(F("cleared_at").desc(nulls_first=True), "-id")

    @extend_schema(request=None, responses=AlertSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str | None = None) -> Response:
        alert = alert_acknowledge(alert=self.get_object(), by=request.user.get_username())
        return Response(AlertSerializer(alert).data)


class AlertRuleSerializer(serializers.ModelSerializer):
    camera = serializers.SlugRelatedField(
        slug_field="name", queryset=Camera.objects.all(), required=False, allow_null=True
    )
    zone = serializers.SlugRelatedField(slug_field="name", queryset=Zone.objects.all(), required=False, allow_null=True)
    to_zone = serializers.SlugRelatedField(
        slug_field="name", queryset=Zone.objects.all(), required=False, allow_null=True
    )

    class Meta:
        model = AlertRule
        fields = [
            "id",
            "name",
            "kind",
            "enabled",
            "camera",
            "zone",
            "to_zone",
            "seconds",
            "threshold_pct",
            "window_min",
            "code_match",
            "code",
            "created_at",
        ]

    def validate(self, attrs: dict) -> dict:
        from django.core.exceptions import ValidationError as DjangoValidationError

        rule = AlertRule(**{**({f: getattr(self.instance, f) for f in attrs} if self.instance else {}), **attrs})
        try:
            rule.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        return attrs


class AlertRuleViewSet(viewsets.ModelViewSet):
    serializer_class = AlertRuleSerializer
    queryset = AlertRule.objects.select_related("camera", "zone", "to_zone")

    permission_classes = [RolePermissions]
