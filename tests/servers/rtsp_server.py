"""A real RTSP server for tests: still images frozen into live H.264/H.265 streams (GStreamer).

Runs with Debian's /usr/bin/python3, which has ``gi`` (the project venv does not):

    /usr/bin/python3 tests/servers/rtsp_server.py --port 8555 --mount qr=/tmp/qr.png \
        [--h265-mount qr265=/tmp/qr.png] [--auth-mount qr:user:pass] [--stall-mount stall=/tmp/qr.png]

Every mount is rtsp://127.0.0.1:<port>/<name>. Prints READY once serving; exits on SIGTERM/SIGINT.
A stall mount sends a few RTP packets (not a whole frame) and then nothing: the session stays open.
"""

import argparse
import signal
import sys

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--mount", action="append", default=[], help="name=/path/to/image.png (H.264)")
    parser.add_argument("--h265-mount", action="append", default=[], help="name=/path (H.265, needs x265enc)")
    parser.add_argument("--auth-mount", action="append", default=[], help="name:user:pass (Basic auth on a mount)")
    parser.add_argument("--stall-mount", action="append", default=[], help="name=/path (stalls after open)")
    opts = parser.parse_args(argv)

    Gst.init(None)
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
