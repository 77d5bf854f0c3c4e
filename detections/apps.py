from django.apps import AppConfig


class DetectionsConfig(AppConfig):
    # The label stays "analytics": the tables (analytics_detection), migrations and permissions
    # were created under it, and renaming a label would orphan them.
    name = "detections"
    label = "analytics"
    verbose_name = "Detections"
