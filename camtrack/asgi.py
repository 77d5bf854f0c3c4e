"""ASGI entry point: the web process serves pages, the API and the event stream from one event loop,
so hundreds of open event streams do not each hold a worker (gunicorn -k uvicorn_worker.UvicornWorker)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "camtrack.settings")
application = get_asgi_application()
