"""Decode-only ceiling: frames per second that decoding alone reaches on all cores.

Kept free of Django models so spawned processes can import it.
"""

import multiprocessing
import time


def _decode_loop(args: tuple[list[bytes], float, bool]) -> int:
    frames, seconds, bare = args
    import cv2
    import numpy as np
    import zxingcpp

    from detections.decoders import decode_bytes

    done, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        data = frames[done % len(frames)]
        if bare:
            img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
            zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode, text_mode=zxingcpp.TextMode.Plain)
        else:
            decode_bytes(data, formats=["qr"])
        done += 1
    return done


def decode_ceiling(frames: list[bytes], workers: int, seconds: float = 4.0) -> dict:
    """Frames per second that decoding alone reaches on all cores: the ceiling for the pipeline."""
    ctx = multiprocessing.get_context("spawn")
    out = {}
    with ctx.Pool(workers) as pool:
        for label, bare in (("bare_zxing", True), ("pipeline_decode", False)):
            counts = pool.map(_decode_loop, [(frames, seconds, bare)] * workers)
            out[f"{label}_frames_per_s"] = round(sum(counts) / seconds, 1)
    return out
