from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from web import console, metrics, sse, views
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
    path("login/", auth_views.LoginView.as_view(template_name="web/console/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", console.overview, name="console"),
    path("journey/", console.journey_page, name="console-journey"),
    path("counts/", console.counts_page, name="console-counts"),
    path("alerts/", console.alerts_page, name="console-alerts"),
    path("cameras/<str:name>/", console.camera_page, name="console-camera"),
    path("cameras/<str:name>/latest.jpg", console.camera_latest_jpg, name="camera-latest-jpg"),
    path("cameras/<str:name>/latest.json", console.camera_latest_json, name="camera-latest-json"),
    path("api/board/", console.board_json, name="board"),
    path("healthz", views.healthz, name="healthz"),
    # Browsers ask for it on every page, the admin's included.
    path("favicon.ico", RedirectView.as_view(url=static("web/console/icon.svg"), permanent=True)),
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
