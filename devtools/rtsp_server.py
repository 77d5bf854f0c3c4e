"""A real RTSP server for tests and benchmarks (GStreamer).

Runs with Debian's /usr/bin/python3, which has ``gi`` (the project venv does not):

    /usr/bin/python3 devtools/rtsp_server.py --port 8555 --mount qr=/tmp/qr.png \
        [--h265-mount qr265=/tmp/qr.png] [--auth-mount qr:user:pass] [--stall-mount stall=/tmp/qr.png] \
        [--clip-mount cam1=/tmp/clip.h264 --fps 10] [--status /tmp/status.json]
    /usr/bin/python3 devtools/rtsp_server.py --make-clip /tmp/clip.h264 --frames /tmp/pngs --fps 10 --gop-s 2

Every mount is rtsp://127.0.0.1:<port>/<name>. Prints READY once serving; exits on SIGTERM/SIGINT.

- A ``--mount`` freezes a still image into a live stream, one pipeline per client (each starts on a
  key frame, like a camera's fresh session).
- A stall mount sends a few RTP packets (not a whole frame) and then nothing: the session stays open.
- A clip mount plays a pre-encoded H.264 clip in a loop, shared by all its clients as a camera's
  encoder is: a late joiner starts mid-GOP. The position in the clip follows the wall clock (frame
  ``int(time * fps) % frames``), so a clip with one image per second, of a code naming that second
  (``--make-clip``), shows ``int(time) % 60`` and proves how old a decoded picture is. Nothing is
  encoded while serving: fifty clip mounts cost little more than the packets they send.
- Lines on stdin steer clip mounts: ``stall NAME`` (sessions stay open, no packets) and
  ``resume NAME``; NAME ``*`` is all of them.
- ``--status FILE`` is rewritten twice a second: per mount, sessions playing now and ever started.
"""

import argparse
import functools
import json
import os
import shutil
import signal
import sys
import tempfile
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

# Key frames every 10 frames so a client's first picture comes quickly.
_ENC = "tune=zerolatency key-int-max=10 speed-preset=ultrafast"
ENCODERS = {
    "h264": f"x264enc {_ENC} ! rtph264pay name=pay0 pt=96 config-interval=1",
    "h265": f"x265enc {_ENC} ! rtph265pay name=pay0 pt=96 config-interval=1",
}
STALL_PACKETS = 5  # far fewer than one 720p key frame needs, so no picture ever decodes


AUD = b"\x00\x00\x00\x01\x09"  # x264enc aud=true starts each access unit with a delimiter
CATCH_UP_MAX = 5  # frames pushed in one tick when the timer ran late


def has_element(name: str) -> bool:
    return Gst.ElementFactory.find(name) is not None


def launch_line(path: str, codec: str) -> str:
    decoder = "jpegdec" if path.lower().endswith((".jpg", ".jpeg")) else "pngdec"
    return (
        f'( filesrc location="{path}" ! {decoder} ! imagefreeze is-live=true ! videoconvert '
        f"! video/x-raw,format=I420 ! {ENCODERS[codec]} )"
    )


def stall_after(packets: int):
    """A media-configure handler that lets ``packets`` RTP packets out, then drops the rest."""

    def configure(_factory, media) -> None:
        sent = [0]

        def probe(_pad, _info):
            sent[0] += 1
            return Gst.PadProbeReturn.OK if sent[0] <= packets else Gst.PadProbeReturn.DROP

        pay = media.get_element().get_by_name("pay0")
        pay.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER | Gst.PadProbeType.BUFFER_LIST, probe)

    return configure


class MountAuth(GstRtspServer.RTSPAuth):
    """Basic auth that challenges only on protected mounts.

    The stock RTSPAuth gives anonymous clients the default token and then answers 404 on a mount
    they may not see, so a client never learns it should send credentials. Failing authentication
    instead makes the server answer 401 with a Basic challenge, as a real camera does.
    """

    def __init__(self, protected: set[str]) -> None:
        super().__init__()
        self.protected = protected

    def do_authenticate(self, ctx) -> bool:
        ok = GstRtspServer.RTSPAuth.do_authenticate(self, ctx)
        mount = ctx.uri.abspath.strip("/").split("/")[0] if ctx.uri else ""
        if mount not in self.protected:
            return ok
        role = ctx.token.get_string("media.factory.role") if ctx.token else None
        return ok and role is not None and role != "anonymous"


def allow(factory, roles: list[str]) -> None:
    for role in roles:
        factory.add_role_from_structure(
            Gst.Structure.from_string(
                f"{role}, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"
            )[0]
        )


def split_pair(value: str, sep: str = "=") -> tuple[str, str]:
    name, _, rest = value.partition(sep)
    if not name or not rest:
        raise SystemExit(f"expected name{sep}value, got {value!r}")
    return name, rest


def make_clip(out: str, frames_dir: str, fps: int, gop_s: float) -> int:
    """Encode DIR/000.png, 001.png ... (one image per second) into an H.264 byte stream at ``fps``.

    Key frames exactly every ``gop_s`` seconds (no scene-cut key frames, though every second's
    picture differs), no B-frames, an access unit delimiter per frame.
    """
    count = len([n for n in os.listdir(frames_dir) if n.endswith(".png")])
    keyint = max(1, round(fps * gop_s))
    # One file name per frame, linked to its second's image (videorate would switch images half a
    # frame interval early, at the midpoint between two seconds).
    per_frame = tempfile.mkdtemp(prefix="clip-frames-")
    for i in range(count * fps):
        os.symlink(os.path.abspath(f"{frames_dir}/{i // fps:03d}.png"), f"{per_frame}/{i:05d}.png")
    line = (
        f'multifilesrc location="{per_frame}/%05d.png" index=0 stop-index={count * fps - 1} '
        f"caps=image/png,framerate={fps}/1 ! pngdec ! videoconvert ! video/x-raw,format=I420 "
        # One slice per frame (zerolatency would slice it): a frame then travels as one RTP timestamp.
        f"! x264enc speed-preset=ultrafast tune=zerolatency sliced-threads=false key-int-max={keyint} "
        f'bframes=0 aud=true byte-stream=true option-string="scenecut=0:min-keyint={keyint}" '
        f'! video/x-h264,stream-format=byte-stream,alignment=au ! filesink location="{out}"'
    )
    pipeline = Gst.parse_launch(line)
    pipeline.set_state(Gst.State.PLAYING)
    msg = pipeline.get_bus().timed_pop_filtered(600 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    shutil.rmtree(per_frame, ignore_errors=True)
    if msg is None or msg.type == Gst.MessageType.ERROR:
        print(f"encoding failed: {msg.parse_error() if msg else 'timeout'}", file=sys.stderr, flush=True)
        return 1
    units, _ = access_units(out)
    if len(units) != count * fps:
        print(f"encoded {len(units)} frames, expected {count * fps}", file=sys.stderr, flush=True)
        return 1
    return 0


@functools.cache
def access_units(path: str) -> tuple[list[bytes], list[int]]:
    """The clip's frames and the indexes of its key frames (IDR, NAL type 5); read once per file."""
    data = open(path, "rb").read()  # noqa: SIM115
    starts = []
    at = data.find(AUD)
    while at >= 0:
        starts.append(at)
        at = data.find(AUD, at + len(AUD))
    units = [data[a:b] for a, b in zip(starts, starts[1:] + [len(data)], strict=True)]
    keys = [i for i, unit in enumerate(units) if b"\x00\x00\x01\x65" in unit or b"\x00\x00\x01\x25" in unit]
    return units, keys


class Clip:
    """A looped clip fed into every media of one mount, paced by the wall clock."""

    def __init__(self, name: str, path: str, fps: int) -> None:
        self.name, self.fps = name, fps
        self.units, self.keys = access_units(path)
        self.stalled = False
        # The parameter sets (SPS, PPS) before the first slice of the first key frame.
        first = self.units[self.keys[0]] if self.keys else b""
        slice_at = min(
            (i for i in (first.find(b"\x00\x00\x01\x65"), first.find(b"\x00\x00\x01\x25")) if i >= 0), default=0
        )
        self.headers = first[len(AUD) + 1 : max(slice_at - 1, len(AUD) + 1)] if slice_at else b""

    def launch(self) -> str:
        caps = f"video/x-h264,stream-format=byte-stream,alignment=au,framerate={self.fps}/1"
        return (
            f"( appsrc name=src is-live=true do-timestamp=true format=time caps={caps} "
            "! h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96 config-interval=-1 mtu=32000 )"
        )

    def target(self) -> int:
        return int(time.time() * self.fps)

    def configure(self, _factory, media) -> None:
        src = media.get_element().get_by_name("src")
        # Start where the wall clock is, as a camera's encoder runs whether anyone watches or not: every
        # client, the first one too, joins mid-GOP and waits for the next key frame.
        state = {"next": self.target(), "timer": 0, "headers": self.headers}
        n = len(self.units)

        def tick() -> bool:
            target = self.target()
            if target - state["next"] > self.fps * 2:  # far behind (a busy host): jump to a key frame
                state["next"] = target - (target % n - max((k for k in self.keys if k <= target % n), default=0))
            pushed = 0
            while state["next"] <= target and pushed < CATCH_UP_MAX:
                if not self.stalled:
                    unit = self.units[state["next"] % n]
                    if state["headers"]:
                        # The parameter sets ride along with the first frame: the stream describes itself
                        # at once (a camera's encoder has been running all along), though its first
                        # picture still waits for the next key frame.
                        unit, state["headers"] = unit[: len(AUD) + 1] + state["headers"] + unit[len(AUD) + 1 :], b""
                    src.emit("push-buffer", Gst.Buffer.new_wrapped(unit))
                state["next"] += 1
                pushed += 1
            return True

        def stop(*_args) -> None:
            if state["timer"]:
                GLib.source_remove(state["timer"])
                state["timer"] = 0

        state["timer"] = GLib.timeout_add(max(1, 1000 // (self.fps * 2)), tick)
        media.connect("unprepared", stop)


class Sessions:
    """Sessions per mount, playing now and started in all, from the clients' PLAY requests."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.playing: dict[str, int] = {}
        self.plays: dict[str, int] = {}

    def attach(self, server) -> None:
        server.connect("client-connected", self.connected)

    def connected(self, _server, client) -> None:
        mounts: set[str] = set()

        def play(_client, ctx) -> None:
            mount = ctx.uri.abspath.strip("/").split("/")[0] if ctx.uri else ""
            if mount not in mounts:
                mounts.add(mount)
                self.playing[mount] = self.playing.get(mount, 0) + 1
                self.plays[mount] = self.plays.get(mount, 0) + 1

        def closed(_client) -> None:
            for mount in mounts:
                self.playing[mount] -= 1
            mounts.clear()

        client.connect("play-request", play)
        client.connect("closed", closed)

    def write(self) -> bool:
        tmp = f"{self.path}.tmp"
        with open(tmp, "w") as fh:
            json.dump({"at": time.time(), "playing": self.playing, "plays": self.plays}, fh)
        os.replace(tmp, self.path)
        return True


def commands(clips: dict[str, Clip]):
    def on_line(channel, _condition) -> bool:
        line = channel.readline()
        if not line:
            return False  # stdin closed
        verb, _, name = line.strip().partition(" ")
        for clip in clips.values() if name == "*" else [clips[name]] if name in clips else []:
            clip.stalled = verb == "stall"
        return True

    return on_line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--mount", action="append", default=[], help="name=/path/to/image.png (H.264)")
    parser.add_argument("--h265-mount", action="append", default=[], help="name=/path (H.265, needs x265enc)")
    parser.add_argument("--auth-mount", action="append", default=[], help="name:user:pass (Basic auth on a mount)")
    parser.add_argument("--stall-mount", action="append", default=[], help="name=/path (stalls after open)")
    parser.add_argument("--clip-mount", action="append", default=[], help="name=/path/clip.h264 (shared, looped)")
    parser.add_argument("--fps", type=int, default=10, help="clip frame rate")
    parser.add_argument("--status", help="file to write session counts to")
    parser.add_argument("--make-clip", help="encode --frames into this H.264 file and exit")
    parser.add_argument("--frames", help="folder of 000.png, 001.png ... one per second")
    parser.add_argument("--gop-s", type=float, default=2.0, help="key-frame interval of a made clip")
    opts = parser.parse_args(argv)

    Gst.init(None)
    if opts.make_clip:
        return make_clip(opts.make_clip, opts.frames, opts.fps, opts.gop_s)
    if opts.port is None:
        parser.error("--port is required")
    if opts.h265_mount and not has_element("x265enc"):
        print("x265enc is not available", file=sys.stderr, flush=True)
        return 2
    server = GstRtspServer.RTSPServer()
    server.set_address(opts.host)
    server.set_service(str(opts.port))
    mounts = server.get_mount_points()

    protected: dict[str, tuple[str, str]] = {}
    for value in opts.auth_mount:
        name, user, password = (value.split(":", 2) + ["", ""])[:3]
        protected[name] = (user, password)
    if protected:
        auth = MountAuth(set(protected))
        # Clients without credentials get the "anonymous" role; open mounts let it in, protected ones don't.
        anonymous = GstRtspServer.RTSPToken()
        anonymous.set_string("media.factory.role", "anonymous")
        auth.set_default_token(anonymous)
        for user, password in protected.values():
            token = GstRtspServer.RTSPToken()
            token.set_string("media.factory.role", f"user-{user}")
            auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
        server.set_auth(auth)

    def add(name: str, path: str, codec: str, stall: bool = False) -> None:
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(launch_line(path, codec))
        # One pipeline per client: each starts on a key frame, like a camera's fresh session.
        factory.set_shared(False)
        if stall:
            factory.connect("media-configure", stall_after(STALL_PACKETS))
        if protected:
            allow(factory, [f"user-{protected[name][0]}"] if name in protected else ["anonymous"])
        mounts.add_factory(f"/{name}", factory)

    for value in opts.mount:
        add(*split_pair(value), "h264")
    for value in opts.h265_mount:
        add(*split_pair(value), "h265")
    for value in opts.stall_mount:
        add(*split_pair(value), "h264", stall=True)
    clips = {}
    for value in opts.clip_mount:
        name, path = split_pair(value)
        clip = clips[name] = Clip(name, path, opts.fps)
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(clip.launch())
        factory.set_shared(True)
        factory.connect("media-configure", clip.configure)
        if protected:
            allow(factory, ["anonymous"])
        mounts.add_factory(f"/{name}", factory)
    if opts.status:
        sessions = Sessions(opts.status)
        sessions.attach(server)
        sessions.write()
        GLib.timeout_add(500, sessions.write)
    GLib.io_add_watch(GLib.IOChannel.unix_new(sys.stdin.fileno()), GLib.IO_IN | GLib.IO_HUP, commands(clips))

    if server.attach(None) == 0:
        print(f"cannot listen on {opts.host}:{opts.port}", file=sys.stderr, flush=True)
        return 1
    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    print("READY", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
