from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from web import metrics, sse, views
from web.alerts_api import AlertRuleViewSet, AlertViewSet
from web.api import CameraViewSet, DetectionViewSet
from web.coverage_api import CoverageView
from web.notify_api import WebhookViewSet
from web.tracking_api import CountsView, JourneyView, SightingViewSet, ZoneViewSet
from web.users_api import UserViewSet

router = DefaultRouter()
router.register("cameras", CameraViewSet, basename="camera")
router.register("detections", DetectionViewSet, basename="detection")
router.register("sightings", SightingViewSet, basename="sighting")
router.register("zones", ZoneViewSet, basename="zone")
router.register("webhooks", WebhookViewSet, basename="webhook")
router.register("alerts", AlertViewSet, basename="alert")
router.register("alert-rules", AlertRuleViewSet, basename="alert-rule")
router.register("users", UserViewSet, basename="user")

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("api/events/stream", sse.events_stream, name="events-stream"),
    path("api/journey/", JourneyView.as_view(), name="journey"),
    path("api/counts/", CountsView.as_view(), name="counts"),
    path("api/coverage/", CoverageView.as_view(), name="coverage"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/schema/ui/", SpectacularSwaggerView.as_view(url_name="schema"), name="schema-ui"),
    path("api/", include(router.urls)),
    path("admin/", admin.site.urls),
]
