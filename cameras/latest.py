"""What each camera saw last: its latest decoded JPEG and the codes found in it, kept in the frame
store's Redis with a short TTL (never on disk), for the console's camera page.

The decode stage renames the frame it just stored into the camera's latest key instead of deleting
it, so keeping the latest picture costs no copy of the bytes.
"""

import json
import os
from dataclasses import dataclass

import redis
from django.conf import settings
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

# A command retried through a short outage (a Redis restart takes a second or two) before the task
# that needs it fails and is retried by Celery: about 6 s in all.
RETRY = Retry(ExponentialBackoff(cap=1.0, base=0.1), retries=8)
_client: tuple[int, redis.Redis] | None = None


def frame_store() -> redis.Redis:
    """The frame store's client, one pool per process: a pool inherited across fork would share sockets."""
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


def latest_key(camera_id: int) -> str:
    return f"camtrack:latest:{camera_id}"


def latest_meta_key(camera_id: int) -> str:
    return f"camtrack:latest:{camera_id}:meta"


@dataclass(frozen=True)
class LatestFrame:
    jpeg: bytes
    meta: dict  # scheduled_at, captured_at (ISO), width, height, codes: [{format, text, position}]


def latest_get(camera_id: int) -> LatestFrame | None:
    pipe = frame_store().pipeline(transaction=False)
    pipe.get(latest_key(camera_id))
    pipe.hget(latest_meta_key(camera_id), "meta")
    jpeg, meta = pipe.execute()
    if jpeg is None:
        return None
    return LatestFrame(jpeg=jpeg, meta=json.loads(meta) if meta else {})


# Moves a just-decoded frame into its camera's latest key, unless a newer slot is there already
# (batches of one camera can finish out of order on several workers). Atomic in Redis.
KEEP_LATEST = """
local held = tonumber(redis.call('HGET', KEYS[3], 'slot') or '-1')
if tonumber(ARGV[1]) < held or redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[1])
  return 0
end
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('HSET', KEYS[3], 'slot', ARGV[1], 'meta', ARGV[2])
redis.call('EXPIRE', KEYS[3], ARGV[3])
return 1
"""
