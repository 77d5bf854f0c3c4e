"""Frames travel from io to cpu through Redis with a short TTL, never through the broker."""

import json

from django.conf import settings

from cameras.latest import KEEP_LATEST, latest_key, latest_meta_key
from cameras.latest import frame_store as client

# Frames handled by the cpu stage, ever: the dispatcher's measure of what decoding keeps up with.
DECODED_KEY = "camtrack:decoded"


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


def frames_done(keys: list[str], latest: dict[int, tuple[float, str, dict]]) -> None:
    """Drop a batch's frames, except each camera's newest stored one, which becomes its latest frame.

    ``latest`` maps a camera id to its newest stored slot, that frame's key and what was found in it.
    A rename moves the bytes without copying them; a key already gone (a redelivered batch) is no error.
    """
    ttl = settings.CAMTRACK_LATEST_FRAME_TTL_S
    kept = latest if ttl > 0 else {}
    store = client()
    keep = store.register_script(KEEP_LATEST)
    pipe = store.pipeline(transaction=False)
    for camera_id, (slot, key, meta) in kept.items():
        script_keys = [key, latest_key(camera_id), latest_meta_key(camera_id)]
        keep(keys=script_keys, args=[repr(slot), json.dumps(meta), ttl], client=pipe)
    held = {key for _, key, _ in kept.values()}
    rest = [k for k in keys if k not in held]
    if rest:
        pipe.delete(*rest)
    pipe.incrby(DECODED_KEY, len(keys))
    pipe.execute(raise_on_error=False)
