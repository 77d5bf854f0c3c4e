"""Camera management through the API, with the admin's validation, and roles from Django groups."""

import pytest
from django.contrib.auth.models import Group, User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from cameras.models import Camera
from web.roles import ADMIN, OPERATOR, VIEWER

pytestmark = pytest.mark.django_db

CSV = (
    "name,url,interval_s,timeout_s,username,password,zone\n"
    "imp-1,http://10.0.0.1/snap.jpg,2,1,viewer,imp-secret-1,dock\n"
    "imp-2,ftp://10.0.0.2/x,2,1,,,\n"
    "imp-3,http://10.0.0.3/snap.jpg,not-a-number,1,,,\n"
    "imp-4,rtsp://cam:imp-secret-4@10.0.0.4/stream,5,2,,,\n"
)


def client_for(role: str | None, name: str | None = None) -> APIClient:
    user = User.objects.create_user(name or f"u-{role}", password="pw")
    if role:
        user.groups.add(Group.objects.get(name=role))
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return c


NEW = {"name": "dock-7", "url": "http://10.0.4.17/snap.jpg", "interval_s": 2, "timeout_s": 1.5, "zone": "dock"}


def test_roles_exist_as_groups_with_model_permissions():
    perms = {g.name: {p.codename for p in g.permissions.all()} for g in Group.objects.all()}
    assert {"view_camera", "view_sighting"} <= perms[VIEWER] and "add_camera" not in perms[VIEWER]
    assert {"add_camera", "change_zone", "delete_alertrule", "add_webhooksubscription"} <= perms[OPERATOR]
    assert "add_user" not in perms[OPERATOR]
    assert {"add_user", "change_user", "delete_user", "view_user"} <= perms[ADMIN]


def test_a_viewer_reads_but_may_not_write():
    viewer = client_for(VIEWER)
    Camera.objects.create(name="seen", url="http://10.0.0.9/x.jpg", next_run_at=0)
    assert viewer.get("/api/cameras/").status_code == 200
    assert viewer.get("/api/cameras/seen/").status_code == 200
    assert viewer.post("/api/cameras/", NEW, format="json").status_code == 403
    assert viewer.patch("/api/cameras/seen/", {"interval_s": 9}, format="json").status_code == 403
    assert viewer.delete("/api/cameras/seen/").status_code == 403
    assert viewer.post("/api/cameras/seen/disable/").status_code == 403
    assert viewer.post("/api/cameras/import/", {"csv": CSV}, format="json").status_code == 403
    rule = {"name": "r", "kind": "camera_offline", "seconds": 60}
    assert viewer.post("/api/alert-rules/", rule, format="json").status_code == 403
    assert (
        viewer.post("/api/webhooks/", {"name": "w", "url": "https://example.com/h"}, format="json").status_code == 403
    )
    assert viewer.get("/api/users/").status_code == 403
    assert Camera.objects.get(name="seen").interval_s == 5.0 and Camera.objects.count() == 1


def test_an_operator_creates_updates_disables_and_deletes_a_camera():
    op = client_for(OPERATOR)
    created = op.post("/api/cameras/", {**NEW, "username": "viewer", "password": "cam-pw-77"}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["name"] == "dock-7" and body["zone"] == "dock" and body["status"] == "new"
    assert "cam-pw-77" not in created.content.decode() and "password" not in body and "username" not in body
    camera = Camera.objects.get(name="dock-7")
    assert camera.password == "cam-pw-77" and camera.next_run_at is not None  # scheduled like any camera

    changed = op.patch("/api/cameras/dock-7/", {"interval_s": 4, "formats": "qr,code128"}, format="json")
    assert changed.status_code == 200, changed.content
    camera.refresh_from_db()
    assert (camera.interval_s, camera.formats, camera.password) == (4.0, "qr,code128", "cam-pw-77")

    assert op.post("/api/cameras/dock-7/disable/").json()["enabled"] is False
    Camera.objects.filter(pk=camera.pk).update(next_run_at=1.0)  # long ago
    assert op.post("/api/cameras/dock-7/enable/").json()["enabled"] is True
    camera.refresh_from_db()
    assert camera.next_run_at is None  # due now, owing nothing for the time it was off

    assert op.delete("/api/cameras/dock-7/").status_code == 204
    assert not Camera.objects.filter(name="dock-7").exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"url": "ftp://10.0.0.1/x"}, "url"),
        ({"url": "http:///nohost"}, "url"),
        ({"interval_s": 0.01}, "interval_s"),
        ({"formats": "qr,klingon"}, "formats"),
        ({"engine": "magic"}, "engine"),
        ({"roi": "1,2,3"}, "roi"),
        ({"zone": "z" * 101}, "zone"),
    ],
)
def test_bad_values_get_a_400_naming_the_field_and_change_nothing(change, field):
    op = client_for(OPERATOR)
    response = op.post("/api/cameras/", {**NEW, **change}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert not Camera.objects.filter(name="dock-7").exists()


def test_credentials_typed_into_the_url_are_split_out_and_never_returned():
    op = client_for(OPERATOR)
    response = op.post("/api/cameras/", {**NEW, "url": "rtsp://admin:url-secret-9@10.0.4.17/stream"}, format="json")
    assert response.status_code == 201, response.content
    assert "url-secret-9" not in response.content.decode()
    camera = Camera.objects.get(name="dock-7")
    assert (camera.url, camera.username, camera.password) == ("rtsp://10.0.4.17/stream", "admin", "url-secret-9")


def test_csv_import_keeps_good_rows_and_reports_bad_ones_by_line():
    op = client_for(OPERATOR)
    response = op.post("/api/cameras/import/", CSV, content_type="text/csv")
    assert response.status_code == 200, response.content
    report = response.json()
    assert (report["created"], report["updated"], report["rows"]) == (2, 0, 4)
    assert [(e["line"], e["camera"]) for e in report["errors"]] == [(3, "imp-2"), (4, "imp-3")]
    assert "imp-secret" not in response.content.decode()
    assert Camera.objects.get(name="imp-4").password == "imp-secret-4"
    again = op.post("/api/cameras/import/", {"csv": CSV}, format="json").json()
    assert (again["created"], again["updated"]) == (0, 2)
    bad = op.post("/api/cameras/import/", "camera,address\nx,y\n", content_type="text/csv")
    assert bad.status_code == 400 and "csv" in bad.json()


def test_only_admins_manage_users():
    admin, op = client_for(ADMIN), client_for(OPERATOR)
    assert op.get("/api/users/").status_code == 403
    assert op.post("/api/users/", {"username": "x", "role": "admin"}, format="json").status_code == 403
    made = admin.post("/api/users/", {"username": "night-op", "password": "a-Long-pass-123", "role": OPERATOR})
    assert made.status_code == 201, made.content
    assert made.json()["role"] == OPERATOR and "password" not in made.json()
    user = User.objects.get(username="night-op")
    assert user.check_password("a-Long-pass-123") and user.groups.get().name == OPERATOR
    weak = admin.post("/api/users/", {"username": "weak", "password": "123"})
    assert weak.status_code == 400 and "password" in weak.json() and "123" not in str(weak.json())
    assert admin.patch(f"/api/users/{user.pk}/", {"role": VIEWER}, format="json").json()["role"] == VIEWER
    assert admin.delete(f"/api/users/{user.pk}/").status_code == 204


def test_an_admin_cannot_lock_themselves_out():
    admin = client_for(ADMIN, "self-admin")
    me = User.objects.get(username="self-admin")
    assert admin.delete(f"/api/users/{me.pk}/").status_code == 400
    assert admin.patch(f"/api/users/{me.pk}/", {"is_active": False}, format="json").status_code == 400
    assert admin.patch(f"/api/users/{me.pk}/", {"role": VIEWER}, format="json").status_code == 400
    assert admin.patch(f"/api/users/{me.pk}/", {"email": "me@example.com"}, format="json").status_code == 200
    me.refresh_from_db()
    assert me.is_active and me.groups.get().name == ADMIN
