"""/api/users/: accounts and their role, for admins only (viewers and operators cannot even list them)."""

from django.contrib.auth.models import Group, User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from rest_framework import serializers, viewsets
from rest_framework.exceptions import ValidationError

from web.permissions import RolePermissions
from web.roles import ADMIN, OPERATOR, VIEWER

ROLES = (VIEWER, OPERATOR, ADMIN)


class UserSerializer(serializers.ModelSerializer):
    role = serializers.ChoiceField(
        choices=ROLES,
        required=False,
        allow_null=True,
        help_text="the user's one role (default viewer); null: none (a superuser reads as admin)",
    )
    password = serializers.CharField(write_only=True, required=False, style={"input_type": "password"})

    class Meta:
        model = User
        fields = ["id", "username", "email", "is_active", "role", "password", "date_joined", "last_login"]
        read_only_fields = ["id", "date_joined", "last_login"]

    def to_representation(self, instance: User) -> dict:
        data = super().to_representation(instance)
        names = {g.name for g in instance.groups.all()}
        data["role"] = next((r for r in reversed(ROLES) if r in names), ADMIN if instance.is_superuser else None)
        return data

    def validate_password(self, value: str) -> str:
        try:
            validate_password(value)
        except DjangoValidationError as exc:  # its messages never quote the password
            raise serializers.ValidationError(exc.messages) from None
        return value

    def create(self, validated_data: dict) -> User:
        return self._save(User(), validated_data, default_role=VIEWER)

    def update(self, instance: User, validated_data: dict) -> User:
        request = self.context.get("request")
        if request is not None and instance.pk == request.user.pk:
            # Nobody locks themselves out: another admin changes one's own role or active flag.
            for key in ("role", "is_active"):
                if key in validated_data and validated_data[key] != self.to_representation(instance)[key]:
                    raise serializers.ValidationError({key: "you cannot change this on your own account"})
        return self._save(instance, validated_data)

    def _save(self, user: User, data: dict, default_role: str | None = None) -> User:
        role = data.pop("role", default_role)
        password = data.pop("password", None)
        for key, value in data.items():
            setattr(user, key, value)
        if password:
            user.set_password(password)
        elif not user.pk:
            user.set_unusable_password()  # a token-only account
        with transaction.atomic():
            user.save()
            if role is not None:
                user.groups.remove(*Group.objects.filter(name__in=ROLES))
                user.groups.add(Group.objects.get(name=role))
        return user


class UserViewSet(viewsets.ModelViewSet):
    serializer_class = UserSerializer
    permission_classes = [RolePermissions]
    read_permission_required = True
    queryset = User.objects.prefetch_related("groups").order_by("id")

    def perform_destroy(self, instance: User) -> None:
        if instance.pk == self.request.user.pk:
            raise ValidationError({"id": "you cannot delete your own account"})
        instance.delete()
