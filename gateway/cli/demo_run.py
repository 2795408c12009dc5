"""`make run`'s two processes, started and stopped together: the PayPal stand-in and the
demo site (`serve-demo`, the site with its jobs).

    python -m gateway.cli.demo_run --host 127.0.0.1 --port 5000 --sim-port 5001

Ctrl-C (SIGINT to the terminal's foreground process group: make, this process and both
children) or a SIGTERM to this process (make passes its own SIGTERM on to its recipe)
stops both: each child still running is sent SIGTERM and waited for (SIGKILL after
`BOUND` seconds), then this process exits 0, so make prints no error line. A SIGINT that
came ignored stays ignored. If a child ends by itself (its port is taken, say), the other
is stopped the same way and the exit status is the ended child's.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from types import FrameType

#: Seconds a child gets after SIGTERM before it is killed (each stops within 5 s).
BOUND = 10.0


def environment(host: str, port: int, sim_port: int) -> dict[str, str]:
    """The demo's settings: the site pays through the stand-in over plain http."""
    plan = {
        "id": "P-DEMO-PRO-MONTHLY",
        "name": "Pro, monthly",
        "price": "29.00",
        "interval_unit": "MONTH",
    }
    return {
        "GATEWAY_PAYPAL_MODE": "sim",
        "GATEWAY_PAYPAL_SIM_URL": f"http://{host}:{sim_port}",
        "GATEWAY_PUBLIC_URL": f"http://{host}:{port}",  # links in mails the jobs write
        "GATEWAY_SESSION_COOKIE_SECURE": "false",
        "GATEWAY_REMEMBER_COOKIE_SECURE": "false",
        "GATEWAY_PAYPAL_WEBHOOK_ID": "WH-SIM-DEFAULT",
        "PAYPAL_SIM_WEBHOOK_ID": "WH-SIM-DEFAULT",
        "PAYPAL_SIM_WEBHOOK_URL": f"http://{host}:{port}/paypal/webhook",
        # The REST plan the demo's Pro plan points at (gateway/cli/commands.py: DEMO_REST_PLANS).
        "PAYPAL_SIM_PLANS": json.dumps([plan]),
    }


def commands(host: str, port: int, sim_port: int) -> list[list[str]]:
    flask = [sys.executable, "-m", "flask"]
    return [
        [*flask, "--app", "paypal_sim", "run", "--host", host, "--port", str(sim_port)],
        [*flask, "--app", "app", "serve-demo", "--host", host, "--port", str(port)],
    ]


class _Signalled(Exception):
    pass


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.cli.demo_run", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--sim-port", type=int, default=5001)
    args = parser.parse_args(argv)
    env = os.environ | environment(args.host, args.port, args.sim_port)

    # While the children start, a signal is only noted: raised inside Popen, it could lose
    # a child that has just been started. Once both run, it ends the wait below.
    received: list[int] = []
    handled = [signal.SIGTERM]
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        handled.append(signal.SIGINT)

    def note(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    def interrupt(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        raise _Signalled

    for signum in handled:
        signal.signal(signum, note)
    children: list[subprocess.Popen[bytes]] = []
    status = 0
    try:
        for command in commands(args.host, args.port, args.sim_port):
            children.append(subprocess.Popen(command, env=env))
        ended = threading.Event()
        for child in children:
            threading.Thread(target=_wait, args=(child, ended), daemon=True).start()
        for signum in handled:
            signal.signal(signum, interrupt)
        if not received:
            ended.wait()
            code = next(c.returncode for c in children if c.returncode is not None)
            status = 128 - code if code < 0 else code  # killed by a signal: as a shell says
    except _Signalled:
        pass
    finally:
        for signum in handled:  # a second Ctrl-C must not cut the stop short
            signal.signal(signum, signal.SIG_IGN)
        _stop(children)
    return status


def _wait(child: subprocess.Popen[bytes], ended: threading.Event) -> None:
    child.wait()
    ended.set()


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM to each child still running, then wait; SIGKILL past the bound."""
    for child in children:
        if child.poll() is None:
            child.terminate()
    for child in children:
        try:
            child.wait(timeout=BOUND)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
            with contextlib.suppress(OSError):  # the terminal may be gone
                print(f"demo_run: pid {child.pid} still ran {BOUND:g} s after SIGTERM: killed")


if __name__ == "__main__":
    sys.exit(main())
