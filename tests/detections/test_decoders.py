"""Decoder behaviour on generated frames, for both engines. No database needed."""

import pytest
import zxingcpp

from detections.decoders import DecodeError, decode_bytes, decode_gray, to_gray
from detections.decoders.payload import gb_text, zxing_payload
from devtools import framegen

ENGINES = ["zxing", "zbar"]
# zbar needs more pixels per module than zxing on JPEG frames: compare engines where both should work.
EASY = {"module_px": 6, "quality": 92}


def texts(data: bytes, **kwargs) -> list[str]:
    return [c.text for c in decode_bytes(data, **kwargs).codes]


@pytest.mark.parametrize("engine", ENGINES)
def test_plain_qr_both_engines(engine):
    result = decode_bytes(framegen.qr_frame("HELLO-42", **EASY), formats=["qr"], engine=engine)
    assert [c.text for c in result.codes] == ["HELLO-42"]
    code = result.codes[0]
    assert (code.format, code.engine, code.raw) == ("qr", engine, None)
    assert (result.width, result.height) == (1280, 720)
    xs = [p[0] for p in code.position]
    assert len(code.position) == 4 and 540 < min(xs) < max(xs) < 740  # centred label


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    "payload, encoding, expected",
    [
        ("Grüße, 日本 ✓".encode(), None, "Grüße, 日本 ✓"),
        ("日本語のテキスト".encode("shift_jis"), None, "日本語のテキスト"),
        ("中文二维码测试".encode("gb2312"), None, "中文二维码测试"),
        ("日本語のテキスト", "shift_jis", "日本語のテキスト"),
        ("Grüße", "utf-8", "Grüße"),
        ("café crème".encode("latin-1"), None, "café crème"),
        ("line1\r\nline2\x01end", None, "line1\r\nline2\x01end"),
    ],
    ids=["utf8", "sjis", "gb2312", "eci-sjis", "eci-utf8", "latin1", "crlf-control"],
)
def test_payload_text_is_right_or_absent(engine, payload, encoding, expected):
    codes = decode_bytes(framegen.qr_frame(payload, encoding=encoding, **EASY), engine=engine).codes
    assert len(codes) == 1
    # zbar cannot see ECI or tell GB from Shift-JIS: its text must be right (via the zxing cross-check) or empty.
    assert codes[0].text in (expected, "") if engine == "zbar" else codes[0].text == expected
    if engine == "zxing" or codes[0].text == "":
        assert codes[0].text == expected or codes[0].raw is not None


def test_zbar_never_returns_mojibake_for_gb():
    codes = decode_bytes(framegen.qr_frame("中文二维码测试".encode("gb2312"), **EASY), engine="zbar").codes
    assert codes and codes[0].text in ("中文二维码测试", "")


def test_binary_payload_comes_as_raw_bytes():
    payload = bytes(range(0, 256, 5))
    codes = decode_bytes(framegen.qr_frame(payload, **EASY)).codes
    assert codes[0].raw == payload and codes[0].text == ""


@pytest.mark.parametrize("degrees", [0, 90, 180, 270])
def test_rotations(degrees):
    data = framegen.rotate(framegen.qr_frame("ROT", angle=17), degrees)
    assert texts(data) == ["ROT"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"tilt": 0.3, "angle": 40},
        {"blur": 1.2, "module_px": 5},
        {"contrast": 0.25},
        {"glare": 0.5, "module_px": 5},
        {"module_px": 3, "quality": 70},
    ],
    ids=["perspective", "blur", "low-contrast", "glare", "small-jpeg"],
)
def test_camera_defects(kwargs):
    assert texts(framegen.qr_frame("DEFECT-1", **kwargs)) == ["DEFECT-1"]


@pytest.mark.parametrize("engine", ENGINES)
def test_several_codes(engine):
    wanted = {f"SHELF-{i}" for i in range(4)}
    data = framegen.multi_frame(sorted(wanted), module_px=6)
    assert set(texts(data, engine=engine)) == wanted


@pytest.mark.parametrize("engine", ENGINES)
def test_empty_frame_stays_on_fast_path(engine):
    result = decode_bytes(framegen.empty_frame(seed=3), engine=engine)
    assert result.codes == [] and result.passes == 1


def test_roi_positions_are_full_frame():
    data = framegen.qr_frame("ROI", center=(0.75, 0.7), module_px=5)
    full = decode_bytes(data).codes[0].position
    inside = decode_bytes(data, roi=(800, 350, 480, 370)).codes[0].position
    assert all(abs(a - b) <= 3 for p, q in zip(full, inside, strict=True) for a, b in zip(p, q, strict=True))
    assert decode_bytes(data, roi=(0, 0, 400, 300)).codes == []


def test_downscale_reports_full_frame_positions():
    data = framegen.qr_frame("BIG", (1920, 1080), module_px=10)
    result = decode_bytes(data, downscale=2)
    assert [c.text for c in result.codes] == ["BIG"] and result.width == 1920
    assert max(p[0] for p in result.codes[0].position) > 1000


def test_second_pass_recovers_a_failed_symbol():
    # Blur on a small-module code: the first zxing pass finds the symbol but fails its checksum.
    data = framegen.qr_frame("RESCUE-ME", module_px=3.2, blur=1.2, seed=1, quality=80)
    assert zxingcpp.read_barcodes(to_gray(data), formats=zxingcpp.BarcodeFormat.QRCode) == []
    result = decode_bytes(data)
    assert [c.text for c in result.codes] == ["RESCUE-ME"] and result.passes > 1


def test_other_formats():
    assert texts(framegen.barcode_frame("code128", "ABC-123"), formats=["code128"]) == ["ABC-123"]
    assert texts(framegen.barcode_frame("code128", "ABC-123"), formats=["qr"]) == []
    assert texts(framegen.barcode_frame("microqr", "12345"), formats=["microqr"]) == ["12345"]
    assert texts(framegen.barcode_frame("code128", "ABC-123"), formats=["code128"], engine="zbar") == ["ABC-123"]


def test_errors():
    with pytest.raises(DecodeError) as exc:
        decode_bytes(b"not an image")
    assert exc.value.kind == "not_an_image"
    with pytest.raises(DecodeError, match="bad_format"):
        decode_bytes(framegen.empty_frame(), formats=["qrcode"])
    with pytest.raises(DecodeError, match="bad_engine"):
        decode_bytes(framegen.empty_frame(), engine="opencv")
    with pytest.raises(DecodeError, match="bad_roi"):
        decode_bytes(framegen.empty_frame(), roi=(5000, 0, 10, 10))


def test_decode_gray_and_to_gray():
    gray = to_gray(framegen.qr_frame("GRAY"))
    assert gray.ndim == 2 and [c.text for c in decode_gray(gray, formats=["qr"], engine="zxing")] == ["GRAY"]


def test_gb_guess_leaves_latin1_alone():
    assert gb_text("café crème".encode("latin-1")) is None
    assert gb_text("中文".encode("gb2312")) == "中文"
    assert zxing_payload("ÖÐÎÄ", "中文".encode("gb2312"), binary=False, eci=False) == ("中文", None)
    assert zxing_payload("ÖÐÎÄ", "中文".encode("gb2312"), binary=False, eci=True) == ("ÖÐÎÄ", None)
