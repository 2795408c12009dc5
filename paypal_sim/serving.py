"""`flask --app paypal_sim run` stops on SIGTERM as on Ctrl-C, and lets a delivery end.

Flask's `run` serves with werkzeug's `run_simple`, whose way to stop is a KeyboardInterrupt
on the serving thread (it then closes the socket and returns, and the command exits 0
with no traceback). So SIGTERM raises one too, and so does SIGINT unless it was inherited
ignored (nohup, a background job of a script): that is left as it is. A second signal
while stopping is ignored, so that it cannot interrupt the stop itself. At exit the
delivery thread gets `GRACE` seconds to finish what it is sending.

Only under `flask run`, on the main thread: the tests' in-process stand-in and any other
server keep their own signal handling.
"""

from __future__ import annotations

import atexit
import signal
import threading
from types import FrameType

import click

from .delivery import DeliveryThread

GRACE = 2.0


def stop_on_signals(delivery: DeliveryThread | None) -> None:
    context = click.get_current_context(silent=True)
    if context is None or context.info_name != "run":
        return
    if threading.current_thread() is not threading.main_thread():
        return
    stopping = [False]  # a plain flag: the handler must take no lock

    def interrupt(signum: int, frame: FrameType | None) -> None:
        if not stopping[0]:
            stopping[0] = True
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, interrupt)
    if delivery is not None:
        atexit.register(_finish, delivery)


def _finish(delivery: DeliveryThread) -> None:
    delivery.stopped.set()
    delivery.join(timeout=GRACE)
