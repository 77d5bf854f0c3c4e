import pytest
from django.core.exceptions import ValidationError

from cameras.models import Camera, split_credentials
from cameras.services import camera_upsert


def test_split_credentials_moves_user_and_password_out_of_the_url():
    assert split_credentials("rtsp://bob:s%40cret@10.0.0.5:554/live") == ("rtsp://10.0.0.5:554/live", "bob", "s@cret")
    assert split_credentials("http://cam.local/snap.jpg") == ("http://cam.local/snap.jpg", "", "")


@pytest.mark.django_db
def test_camera_saved_with_credentials_in_url_keeps_them_apart():
    cam, created = camera_upsert(name="dock-1", url="http://admin:hunter2@127.0.0.1:8080/snap.jpg")
    assert created
    cam = Camera.objects.get(name="dock-1")
    assert cam.url == "http://127.0.0.1:8080/snap.jpg"
    assert (cam.username, cam.password) == ("admin", "hunter2")
    assert "hunter2" not in repr(cam) and "hunter2" not in str(cam)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields",
    [
        {"url": "ftp://127.0.0.1/x"},
        {"url": "not a url"},
        {"url": "http://127.0.0.1/x", "interval_s": 0.1},
        {"url": "http://127.0.0.1/x", "formats": "qr,nonsense"},
        {"url": "http://127.0.0.1/x", "roi": "10,10,0,5"},
        {"url": "http://127.0.0.1/x", "downscale": 3},
    ],
)
def test_bad_camera_values_are_refused_with_a_message(fields):
    with pytest.raises(ValidationError):
        camera_upsert(name="bad", **fields)
    assert not Camera.objects.filter(name="bad").exists()
