"""The change gate (cpu): a frame whose picture has not changed since its camera's last fully decoded
frame is not decoded again; that decode's codes carry forward (its sightings go on, its minute counts
a read as before) and the frame is counted as gated.

The comparison is on a thumbnail that JPEG decoding produces at an eighth of the size (each pixel
the mean of an 8×8 block), so sensor noise and re-encoding average out (a few levels) while a code
appearing, moving or leaving anywhere in the decode region changes dozens of thumbnail pixels by
tens of levels. Whatever changes, the frame is decoded in full; so is the first frame of a camera,
and one every CAMTRACK_GATE_FULL_EVERY_S (30 s) regardless. The reference (thumbnail, slot, codes) lives
in the frame store's Redis, so any worker on any host compares against the same one.

The thumbnail is not free: its JPEG entropy decoding costs about 60 % of a full grayscale decode.
So a camera whose last decoded frame had changed (``moving``: a parcel passing, a conveyor) skips
the check and is decoded in full at once; as soon as a frame turns out unchanged, the camera's next
frames go through the check again. Its thumbnail is taken from the full picture, and only when the
decode found the same codes in the same places as the reference's: codes that moved, came or went
already say the picture changed, and the reference then holds no thumbnail (nothing can be gated
against it). A scene that changes all the time pays for no thumbnail; a still one pays one extra
full decode when it calms.
"""

import json
from dataclasses import dataclass

import cv2
import numpy as np
from django.conf import settings

from cameras.latest import frame_store
from detections.decoders import Code, DecodeResult

# Stores a new reference only if it is newer than the one held (workers finish out of order).
_PUT = """
local held = tonumber(redis.call('HGET', KEYS[1], 'slot') or '-1')
if tonumber(ARGV[1]) <= held then return 0 end
redis.call('HSET', KEYS[1], 'slot', ARGV[1], 'thumb', ARGV[2], 'shape', ARGV[3], 'result', ARGV[4], 'moving', ARGV[6])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


def _key(camera_id: int) -> str:
    return f"camtrack:gate:{camera_id}"


@dataclass(frozen=True)
class Reference:
    slot: float  # of the last fully decoded frame
    thumb: np.ndarray
    result: dict
    moving: bool = False  # that frame had changed from the one before: the next one likely has too

    @property
    def has_thumb(self) -> bool:
        return self.thumb.size > 0


# The thumbnail of a reference whose picture was known to have changed without taking one.
NO_THUMB = np.zeros((0, 0), np.uint8)
NO_THUMB.setflags(write=False)
# How far a code's corner may be found from where it was found before in an unchanged picture
# (detection jitters by a pixel or two under sensor noise); farther means the picture changed.
_SAME_PLACE_PX = 4.0


def thumbnail(data: bytes, roi: tuple[int, int, int, int] | None) -> np.ndarray | None:
    """The frame at 1/8 size in grayscale, cut to the decode region; None if it does not decode."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_REDUCED_GRAYSCALE_8)
    if image is None:
        return None
    return _cut(image, roi)


def thumbnail_of(image: np.ndarray, *, downscale: int, roi: tuple[int, int, int, int] | None) -> np.ndarray:
    """The thumbnail of a frame already decoded at 1/``downscale``: block means, as DCT scaling gives,
    at the size it gives (an eighth of the full size, rounded up)."""
    if downscale != 8:
        full_h, full_w = image.shape[0] * downscale, image.shape[1] * downscale
        image = cv2.resize(image, (-(-full_w // 8), -(-full_h // 8)), interpolation=cv2.INTER_AREA)
    return _cut(image, roi)


def _cut(image: np.ndarray, roi: tuple[int, int, int, int] | None) -> np.ndarray:
    if roi is not None:
        x, y, w, h = (v // 8 for v in roi)
        image = image[y : y + max(h, 1), x : x + max(w, 1)]
    return np.ascontiguousarray(image)


def changed(thumb: np.ndarray, reference: np.ndarray) -> bool:
    if thumb.shape != reference.shape:
        return True
    delta = cv2.absdiff(thumb, reference)
    return int(np.count_nonzero(delta > settings.CAMTRACK_GATE_PIXEL_DELTA)) >= settings.CAMTRACK_GATE_MIN_PIXELS


def references_get(camera_ids: set[int]) -> dict[int, Reference]:
    """Each camera's reference, in one round trip."""
    ids = sorted(camera_ids)
    pipe = frame_store().pipeline(transaction=False)
    for camera_id in ids:
        pipe.hmget(_key(camera_id), ["slot", "thumb", "shape", "result", "moving"])
    out = {}
    for camera_id, (slot, thumb, shape, result, moving) in zip(ids, pipe.execute(), strict=True):
        if slot is None or thumb is None or shape is None:
            continue
        h, w = (int(v) for v in shape.split(b","))
        thumb_array = np.frombuffer(thumb, np.uint8).reshape(h, w)
        out[camera_id] = Reference(float(slot), thumb_array, json.loads(result), moving == b"1")
    return out


def references_put(updates: dict[int, tuple[float, np.ndarray, DecodeResult, bool]]) -> None:
    """New references from full decodes, in one round trip."""
    if not updates:
        return
    store = frame_store()
    put = store.register_script(_PUT)
    ttl = max(60, int(3 * settings.CAMTRACK_GATE_FULL_EVERY_S))
    pipe = store.pipeline(transaction=False)
    for camera_id, (slot, thumb, result, moving) in updates.items():
        shape = f"{thumb.shape[0]},{thumb.shape[1]}"
        args = [repr(slot), thumb.tobytes(), shape, _result_json(result), ttl, "1" if moving else "0"]
        put(keys=[_key(camera_id)], args=args, client=pipe)
    pipe.execute(raise_on_error=False)


def result_dict(result: DecodeResult) -> dict:
    codes = [{**c.as_dict(), "raw": c.raw.hex() if c.raw is not None else None} for c in result.codes]
    return {"codes": codes, "width": result.width, "height": result.height, "no_read": result.no_read}


def _result_json(result: DecodeResult) -> str:
    return json.dumps(result_dict(result))


def carried(reference: Reference, ms: float) -> DecodeResult:
    """The reference's decode, for a frame that shows the same picture."""
    r = reference.result
    codes = [
        Code(
            format=c["format"],
            text=c["text"],
            raw=bytes.fromhex(c["raw"]) if c.get("raw") else None,
            position=c["position"],
            engine=c["engine"],
        )
        for c in r["codes"]
    ]
    return DecodeResult(
        codes=codes, width=r["width"], height=r["height"], ms=ms, passes=0, no_read=r["no_read"], gated=True
    )


def same_codes(result: DecodeResult, reference: dict) -> bool:
    """Whether a full decode found the very codes of the reference's, each in the same place.

    If not, the picture changed, whatever its thumbnail would say: a moving scene (a conveyor, a
    parcel passing) then pays for no thumbnail at all, which is about a fifth of its decode cost.
    """
    if result.no_read != reference["no_read"] or len(result.codes) != len(reference["codes"]):
        return False
    held = sorted(((c["format"], c["text"]), c["position"]) for c in reference["codes"])
    found = sorted(((c.format, c.text), c.position) for c in result.codes)
    for (code_a, quad_a), (code_b, quad_b) in zip(held, found, strict=True):
        if code_a != code_b:
            return False
        for (xa, ya), (xb, yb) in zip(quad_a, quad_b, strict=True):
            if abs(xa - xb) > _SAME_PLACE_PX or abs(ya - yb) > _SAME_PLACE_PX:
                return False
    return True


def may_carry(slot: float, reference: Reference | None) -> bool:
    """Whether a frame of this slot may reuse the reference at all (before looking at the picture)."""
    if reference is None or slot <= reference.slot or not reference.has_thumb:
        return False  # the first frame, one older than the reference, or nothing to compare with: decode it
    return slot - reference.slot < settings.CAMTRACK_GATE_FULL_EVERY_S
