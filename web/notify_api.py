"""REST API for webhook subscriptions and their deliveries. Staff write; the secret is write-only."""

import json

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from notify.events import TYPES
from notify.models import (
    SUBSCRIPTION_FIELDS,
    WebhookDelivery,
    WebhookSubscription,
    secret_generate,
    split_types,
    validate_secret,
)
from web.pagination import NewestFirst
from web.permissions import RolePermissions


class EventTypesField(serializers.ListField):
    """A list of event types in JSON, stored as the model's comma list (empty: all)."""

    child = serializers.ChoiceField(choices=TYPES)

    def to_representation(self, data: str) -> list[str]:
        return split_types(data)

    def to_internal_value(self, data: object) -> str:
        if isinstance(data, str):
            data = split_types(data)
        return ",".join(dict.fromkeys(super().to_internal_value(data)))


class WebhookSubscriptionSerializer(serializers.ModelSerializer):
    event_types = EventTypesField(required=False, allow_empty=True)
    # Accepted on write (to set or rotate it), never returned; see WebhookViewSet.create.
    secret = serializers.CharField(write_only=True, required=False, trim_whitespace=True)

    class Meta:
        model = WebhookSubscription
        fields = ["id", *SUBSCRIPTION_FIELDS, "created_at"]
        read_only_fields = ["id", "created_at"]

    def validate_secret(self, value: str) -> str:
        try:
            validate_secret(value)
        except DjangoValidationError as exc:  # its messages never quote the value
            raise serializers.ValidationError(exc.messages) from None
        return value


class WebhookDeliverySerializer(serializers.ModelSerializer):
    payload = serializers.SerializerMethodField()

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event_id",
            "event_type",
            "status",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "created_at",
            "delivered_at",
            "payload",
        ]

    def get_payload(self, obj: WebhookDelivery) -> dict:
        return json.loads(obj.payload)


class WebhookViewSet(viewsets.ModelViewSet):
    """/api/webhooks/: subscriptions; /api/webhooks/<id>/deliveries/: their deliveries, newest first."""

    serializer_class = WebhookSubscriptionSerializer
    permission_classes = [RolePermissions]
    queryset = WebhookSubscription.objects.order_by("id")

    def create(self, request: Request, *args: object, **kwargs: object) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        secret = serializer.validated_data.get("secret") or secret_generate()
        subscription = serializer.save(secret=secret)
        data = dict(self.get_serializer(subscription).data)
        # The one time the secret is shown: the receiver needs it to verify signatures. (No Location
        # header: DRF would take it from "url", which here is the receiver's address.)
        data["secret"] = secret
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(
        responses=inline_serializer(
            "WebhookDeliveryPage",
            {
                "next": serializers.URLField(allow_null=True),
                "previous": serializers.URLField(allow_null=True),
                "results": WebhookDeliverySerializer(many=True),
            },
        )
    )
    @action(detail=True, methods=["get"])
    def deliveries(self, request: Request, pk: str | None = None) -> Response:
        subscription = self.get_object()
        paginator = NewestFirst()
        page = paginator.paginate_queryset(WebhookDelivery.objects.filter(subscription=subscription), request, self)
        return paginator.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)
