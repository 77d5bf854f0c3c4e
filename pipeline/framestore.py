"""Frames travel from io to cpu through Redis with a short TTL, never through the broker."""

import os

import redis
from django.conf import settings
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

# A command retried through a short outage (a Redis restart takes a second or two) before the task
# that needs it fails and is retried by Celery: about 6 s in all.
RETRY = Retry(ExponentialBackoff(cap=1.0, base=0.1), retries=8)

_client: tuple[int, redis.Redis] | None = None


def client() -> redis.Redis:
    # One pool per process: a pool inherited across fork would share sockets.
    global _client
    if _client is None or _client[0] != os.getpid():
        _client = (
            os.getpid(),
            redis.Redis.from_url(
                settings.CAMTRACK_FRAME_STORE_URL,
                socket_timeout=5,
                socket_connect_timeout=5,
                retry=RETRY,
                retry_on_error=[redis.ConnectionError, redis.TimeoutError],
                health_check_interval=10,
            ),
        )
    return _client[1]


def frame_key(camera_id: int, scheduled_ts: float) -> str:
    return f"camtrack:frame:{camera_id}:{scheduled_ts:.6f}"


def frames_put(frames: dict[str, bytes]) -> None:
    """Park a batch of frames in one round trip."""
    pipe = client().pipeline(transaction=False)
    for key, data in frames.items():
        pipe.set(key, data, ex=settings.CAMTRACK_FRAME_TTL_S)
    pipe.execute()


def frames_get(keys: list[str]) -> list[bytes | None]:
    return client().mget(keys) if keys else []


def frames_delete(keys: list[str]) -> None:
    if keys:
        client().delete(*keys)
