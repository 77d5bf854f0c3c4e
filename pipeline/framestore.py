"""Frames travel from io to cpu through Redis with a short TTL, never through the broker."""

import os

import redis
from django.conf import settings

_client: tuple[int, redis.Redis] | None = None


def client() -> redis.Redis:
    # One pool per process: a pool inherited across fork would share sockets.
    global _client
    if _client is None or _client[0] != os.getpid():
        _client = (
            os.getpid(),
            redis.Redis.from_url(settings.CAMTRACK_FRAME_STORE_URL, socket_timeout=5, socket_connect_timeout=5),
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
