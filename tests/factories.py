import time

import factory

from cameras.models import Camera
from cameras.services import camera_save


class CameraFactory(factory.django.DjangoModelFactory):
    """Cameras made through the same service as the admin, the API, imports and commands."""

    class Meta:
        model = Camera

    name = factory.Sequence(lambda n: f"cam-{n}")
    url = factory.Sequence(lambda n: f"http://127.0.0.1:9/cam/{n}.jpg")
    interval_s = 5.0
    timeout_s = 2.0
    next_run_at = factory.LazyFunction(lambda: time.time() - 0.1)

    @classmethod
    def _create(cls, model_class: type[Camera], *args: object, **kwargs: object) -> Camera:
        return camera_save(camera=model_class(*args, **kwargs))
