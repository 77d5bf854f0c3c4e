import importlib.util

import pytest

from tests.factories import CameraFactory

pytest_plugins = ["tests.workers"]
if importlib.util.find_spec("tests.servers") and importlib.util.find_spec("tests.servers.fixtures"):
    pytest_plugins.append("tests.servers.fixtures")


@pytest.fixture
def camera_factory():
    return CameraFactory
