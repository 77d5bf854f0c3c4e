"""manage.py decode: one line per file, errors per file, non-zero exit only on bad arguments."""

import base64
import io
import json

import pytest
from django.core.management import CommandError, call_command

from devtools import framegen


def run(*args: str) -> list[str]:
    out = io.StringIO()
    call_command("decode", *args, stdout=out)
    return out.getvalue().splitlines()


def test_json_lines(tmp_path):
    good = tmp_path / "good.jpg"
    good.write_bytes(framegen.qr_frame("CMD-1"))
    binary = tmp_path / "bin.png"
    binary.write_bytes(framegen.png(framegen.qr_gray(bytes(range(0, 200, 3)), module_px=6)))
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(framegen.empty_frame())
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 nothing")
    lines = [
        json.loads(x) for x in run(str(good), str(binary), str(empty), str(broken), str(tmp_path / "missing"), "--json")
    ]
    assert [x["file"] for x in lines] == [str(p) for p in (good, binary, empty, broken, tmp_path / "missing")]
    assert lines[0]["detections"][0]["text"] == "CMD-1" and lines[0]["detections"][0]["engine"] == "zxing"
    assert len(lines[0]["detections"][0]["position"]) == 4 and lines[0]["ms"] > 0
    assert base64.b64decode(lines[1]["detections"][0]["raw"]) == bytes(range(0, 200, 3))
    assert lines[2]["detections"] == []
    assert "error" in lines[3] and "error" in lines[4]


def test_engine_formats_and_text_output(tmp_path):
    bar = tmp_path / "bar.jpg"
    bar.write_bytes(framegen.barcode_frame("code128", "PALLET-7"))
    lines = run(str(bar), "--engine", "zbar", "--formats", "qr,code128", "--json")
    det = json.loads(lines[0])["detections"]
    assert [(d["format"], d["text"], d["engine"]) for d in det] == [("code128", "PALLET-7", "zbar")]
    assert "PALLET-7" in run(str(bar), "--formats", "code128")[0]


@pytest.mark.parametrize("args", [["--formats", "qr,nope"], ["--engine", "opencv"], ["--roi", "1,2"]])
def test_bad_arguments_fail(tmp_path, args):
    with pytest.raises((CommandError, SystemExit)):
        run(str(tmp_path / "x.jpg"), *args)
