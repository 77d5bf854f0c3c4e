from django.conf import settings

from camtrack.celery import app

QUEUES = {"io", "cpu"}


def test_every_task_of_ours_routes_to_exactly_one_known_queue():
    app.loader.import_default_modules()
    ours = {name for name, task in app.tasks.items() if task.__module__.startswith("pipeline.")}
    assert ours, "no tasks registered"
    for name in ours:
        route = settings.CELERY_TASK_ROUTES.get(name)
        assert route is not None, f"{name} has no route"
        assert route["queue"] in QUEUES, f"{name} routes to {route['queue']}"
    assert {q.name for q in app.conf.task_queues} == QUEUES


def test_beat_entries_expire_with_their_period():
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["options"]["expires"] == entry["schedule"]
        assert settings.CELERY_TASK_ROUTES[entry["task"]]["queue"] in QUEUES


def test_at_least_once_settings():
    assert settings.CELERY_TASK_ACKS_LATE and settings.CELERY_TASK_REJECT_ON_WORKER_LOST
    assert settings.CELERY_TASK_IGNORE_RESULT and settings.CELERY_RESULT_BACKEND is None
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] >= 300


def test_task_names_stay_pinned_whatever_module_holds_them():
    # Messages already queued name these tasks: renaming one would strand them.
    from pipeline import tasks

    assert tasks.dispatch_due.name == "cameras.tasks.dispatch_due"
    assert tasks.capture.name == "cameras.tasks.capture"
    assert tasks.decode.name == "analytics.tasks.decode"
    assert tasks.prune.name == "analytics.tasks.prune"


def test_webhook_tasks_route_to_io():
    # They live in notify/tasks.py (notify may not import pipeline), outside the check above.
    app.loader.import_default_modules()
    assert "notify.tasks.webhook_deliver" in app.tasks
    assert settings.CELERY_TASK_ROUTES["notify.tasks.webhook_deliver"] == {"queue": "io"}
    assert settings.CELERY_TASK_ROUTES["notify.tasks.webhook_sweep"] == {"queue": "io"}
