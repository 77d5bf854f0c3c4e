from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "notify"
    verbose_name = "Events out"

    def ready(self) -> None:
        from cameras.signals import camera_status_changed
        from notify.announce import camera_status_announce

        camera_status_changed.connect(camera_status_announce, dispatch_uid="notify.camera_status")
