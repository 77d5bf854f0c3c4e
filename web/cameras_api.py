"""Camera management through the API: create, update, enable/disable, delete and CSV import, all through
cameras.services (the admin's write path), so the API validates exactly as the admin does."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import BaseParser, FormParser, JSONParser, MultiPartParser

from cameras.imports import ImportReport, cameras_import_csv
from cameras.models import Camera
from cameras.services import EDITABLE, camera_save, zone_for


def _drf_error(exc: DjangoValidationError) -> ValidationError:
    """A model's validation error as the API's, keyed by field where the model says which."""
    return ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages})


class CameraWriteSerializer(serializers.ModelSerializer):
    """What an operator may set. Credentials are write-only: never returned, and on update an omitted
    password keeps the stored one ("" clears it)."""

    zone = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=100)
    username = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=150)
    password = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=300, style={"input_type": "password"}
    )

    class Meta:
        model = Camera
        fields = ["name", *EDITABLE]

    def create(self, validated_data: dict) -> Camera:
        return self._save(Camera(), validated_data)

    def update(self, instance: Camera, validated_data: dict) -> Camera:
        return self._save(instance, validated_data)

    def _save(self, camera: Camera, data: dict) -> Camera:
        try:
            with transaction.atomic():
                if "zone" in data:
                    camera.zone = zone_for(name=data.pop("zone") or "")
                for key, value in data.items():
                    setattr(camera, key, value)
                return camera_save(camera=camera)
        except DjangoValidationError as exc:
            raise _drf_error(exc) from None


class CsvParser(BaseParser):
    """A request body of text/csv, read as UTF-8 text."""

    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None) -> str:
        try:
            return stream.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationError({"csv": "the CSV must be UTF-8"}) from None


IMPORT_PARSERS = [CsvParser, MultiPartParser, FormParser, JSONParser]


class ImportRequestSerializer(serializers.Serializer):
    csv = serializers.CharField(required=False, help_text="the CSV text (or send it as text/csv, or a 'file')")
    file = serializers.FileField(required=False)


class ImportErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    camera = serializers.CharField()
    error = serializers.CharField()


class ImportReportSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    rows = serializers.IntegerField()
    errors = ImportErrorSerializer(many=True)


def import_text(data: object) -> str:
    """The CSV text of an import request, whichever way it was sent."""
    if isinstance(data, str):
        return data
    upload = data.get("file") if hasattr(data, "get") else None
    if upload is not None and hasattr(upload, "read"):
        try:
            return upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationError({"file": "the CSV must be UTF-8"}) from None
    text = data.get("csv") if hasattr(data, "get") else None
    if not isinstance(text, str) or not text.strip():
        raise ValidationError({"csv": "send the CSV as text/csv, as a 'file' upload or in 'csv'"})
    return text


def import_run(text: str) -> dict:
    try:
        report: ImportReport = cameras_import_csv(text=text)
    except DjangoValidationError as exc:
        raise ValidationError({"csv": exc.messages}) from None
    errors = [{"line": line, "camera": name, "error": why} for line, name, why in report.errors]
    return {"created": report.created, "updated": report.updated, "rows": report.rows, "errors": errors}
