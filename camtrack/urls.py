from django.contrib import admin
from django.urls import include, path
from rest_framework.routers import DefaultRouter

from web import views
from web.api import CameraViewSet, DetectionViewSet

router = DefaultRouter()
router.register("cameras", CameraViewSet, basename="camera")
router.register("detections", DetectionViewSet, basename="detection")

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("healthz", views.healthz, name="healthz"),
    path("api/", include(router.urls)),
    path("admin/", admin.site.urls),
]
