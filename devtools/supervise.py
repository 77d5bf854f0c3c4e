"""Keeps one process running: `python -m devtools.supervise --name io -- CMD [ARGS...]`.

What systemd's ``Restart=always`` and compose's ``restart:`` do for deployed hosts, for the processes
`make demo` starts under honcho (which stops everything when one process ends) and for the tests that
break a broker under running workers. A process that exits, whatever its code, is started again after
a pause that doubles from 1 s up to 10 s and goes back to 1 s once a run has lasted 30 s. SIGTERM or
SIGINT is passed on to the process (its whole group), and the supervisor exits with its code.
"""

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

FIRST_PAUSE_S = 1.0
MAX_PAUSE_S = 10.0
HEALTHY_RUN_S = 30.0
STOP_GRACE_S = 20.0


class Supervisor:
    def __init__(self, name: str, command: list[str], write: Callable[[str], object] = print) -> None:
        self.name = name
        self.command = command
        self.write = write
        self.proc: subprocess.Popen | None = None
        self.stopping = False
        self.restarts = 0

    def _say(self, text: str) -> None:
        self.write(f"supervise[{self.name}]: {text}")

    def stop(self, signum: int, _frame: object = None) -> None:
        self.stopping = True
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)

    def run(self) -> int:
        pause = FIRST_PAUSE_S
        while True:
            started = time.monotonic()
            # Its own process group, so a stop reaches the worker's pool children too.
            self.proc = subprocess.Popen(self.command, start_new_session=True)
            self._say(f"started pid {self.proc.pid}")
            code = self._wait()
            if self.stopping:
                return 128 - code if code < 0 else code  # killed by a signal: the shell's convention
            ran = time.monotonic() - started
            pause = FIRST_PAUSE_S if ran >= HEALTHY_RUN_S else pause
            self.restarts += 1
            self._say(
                f"pid {self.proc.pid} exited with {code} after {ran:.1f} s; restart {self.restarts} in {pause:.0f} s"
            )
            deadline = time.monotonic() + pause
            while time.monotonic() < deadline and not self.stopping:
                time.sleep(0.1)
            if self.stopping:
                return 128 - code if code < 0 else code
            pause = min(pause * 2, MAX_PAUSE_S)

    def _wait(self) -> int:
        assert self.proc is not None
        while True:
            try:
                code = self.proc.wait(0.5)
            except subprocess.TimeoutExpired:
                if self.stopping:
                    self._wait_stopped()
                continue
            # The process may be gone while children it forked live on in its group (a prefork pool):
            # they would hold the queues' messages, so they go too before a new one starts.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            return code

    def _wait_stopped(self) -> None:
        assert self.proc is not None
        try:
            self.proc.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            self._say(f"pid {self.proc.pid} did not stop within {STOP_GRACE_S:.0f} s; killing it")
            os.killpg(self.proc.pid, signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.supervise", description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="", help="shown in the supervisor's own lines")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    supervisor = Supervisor(args.name or os.path.basename(command[0]), command, write=lambda t: print(t, flush=True))
    signal.signal(signal.SIGTERM, supervisor.stop)
    signal.signal(signal.SIGINT, supervisor.stop)
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
