import importlib.util

import pytest

from tests.factories import CameraFactory

pytest_plugins = ["tests.workers"]
if importlib.util.find_spec("tests.servers") and importlib.util.find_spec("tests.servers.fixtures"):
    pytest_plugins.append("tests.servers.fixtures")


@pytest.fixture
def camera_factory():
    return CameraFactory


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Settled count buckets are cached per process; ids repeat across tests on some databases.
    from django.core.cache import cache

    from cameras import selectors

    cache.clear()
    selectors._places.clear()  # camera names, zones and gaps cached per process
    _ledger_clear()
    yield


def _ledger_clear() -> None:
    # Each test's ledger of claimed slots starts empty: slot ids (camera, due time) repeat across tests.
    import contextlib

    import redis

    from cameras import ledger
    from cameras.latest import frame_store

    with contextlib.suppress(redis.RedisError):
        frame_store().delete(ledger.OPEN_KEY, ledger.SINCE_KEY)
