"""How the long-running commands stop: on SIGTERM, and on SIGINT unless it came ignored.

`jobs run`, `inbox process --loop` and `serve-demo` each install one `Stop` and wait on it
(or look at it between units of work) instead of sleeping, so a signal wakes them at once.
Work in progress then has `grace` seconds to finish; work still running after that gives
its lease back (a job's, a claimed batch's) so that another process takes it at once, and
the process leaves without waiting for the threads still running it (`leave`). Whatever
happens, the process is gone `LIMIT` seconds after the signal.

A SIGINT inherited as ignored stays ignored: a background job of a script and `nohup`
start a process that way so that a Ctrl-C meant for the terminal does not reach it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from types import FrameType
from typing import Any

import click

#: Seconds after the signal that work in progress may take to finish.
GRACE = 2.5
#: Seconds after the signal by which the process is gone, however stuck it is.
LIMIT = 4.5


class Stop:
    """Set once, by a signal or by a call; whatever waits on it wakes at once."""

    def __init__(self, grace: float = GRACE) -> None:
        self.grace = grace
        self.reason = ""
        #: Work was left running on a thread (its lease given back): see `leave`.
        self.abandoned = False
        self._event = threading.Event()
        self._future: Future[None] = Future()  # lets `wait_futures` wake on the stop too
        self._at: float | None = None
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Sleep until the stop (True) or for `timeout` seconds (False)."""
        return self._event.wait(timeout)

    def on_stop(self, callback: Callable[[], None]) -> None:
        """Call `callback` when the stop comes (at once if it has come)."""
        with self._lock:
            if not self._event.is_set():
                self._callbacks.append(callback)
                return
        callback()

    def set(self, reason: str = "asked to stop") -> None:
        with self._lock:
            if self._event.is_set():
                return
            self.reason, self._at = reason, time.monotonic()
            self._event.set()
            self._future.set_result(None)
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()

    def deadline(self, limit: float = float("inf")) -> float:
        """`limit` (a time.monotonic() value), or the end of the grace if that is sooner."""
        return limit if self._at is None else min(limit, self._at + self.grace)

    def wait_futures(self, futures: Iterable[Future[Any]], until: float) -> None:
        """Wait until every future is done, `until` (monotonic) passes, or the grace after
        the stop runs out, whichever comes first."""
        everything = _all_of(list(futures))
        while not everything.done():
            left = self.deadline(until) - time.monotonic()
            if left <= 0:
                return
            watched = {everything} if self.is_set() else {everything, self._future}
            wait(watched, timeout=left, return_when=FIRST_COMPLETED)


def _all_of(futures: list[Future[Any]]) -> Future[None]:
    """A future done once every one of `futures` is (one wait, however many there are)."""
    everything: Future[None] = Future()
    left, lock = [len(futures)], threading.Lock()

    def one_done(_: Future[Any]) -> None:
        with lock:
            left[0] -= 1
            last = left[0] == 0
        if last:
            everything.set_result(None)

    if not futures:
        everything.set_result(None)
    for future in futures:
        future.add_done_callback(one_done)
    return everything


def install(stop: Stop, command: str) -> None:
    """Route SIGTERM, and SIGINT unless it came ignored, to `stop` (main thread only).

    The signal's number reaches a thread of ours through a pipe that Python's own C-level
    handler writes to (`signal.set_wakeup_fd`), whichever thread the kernel delivered the
    signal to. A Python-level handler would run only when the main thread next runs
    bytecode: a signal landing on another thread while the main thread sleeps in a wait
    without a timeout would wait forever (seen under load). The Python handler itself
    does nothing; the thread sets the stop.
    """
    read, write = os.pipe()
    os.set_blocking(write, False)

    def handler(signum: int, frame: FrameType | None) -> None:
        """Nothing to do here: the wakeup pipe has carried the signal to `_watch`."""

    signal.signal(signal.SIGTERM, handler)
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, handler)
    signal.set_wakeup_fd(write, warn_on_full_buffer=False)
    threading.Thread(
        target=_watch, args=(read, stop, command), name="stop-on-signal", daemon=True
    ).start()


def _watch(fd: int, stop: Stop, command: str) -> None:
    while True:
        number = os.read(fd, 1)[0]
        if number not in (signal.SIGTERM, signal.SIGINT):
            continue  # the wakeup pipe carries every signal with a Python handler
        name = signal.Signals(number).name
        if stop.is_set():
            _say(f"{command}: {name}: already stopping")
            continue
        watchdog = threading.Timer(LIMIT, _give_up, args=(command, name))
        watchdog.daemon = True
        watchdog.start()
        _say(f"{command}: {name}: stopping")
        stop.set(name)


def _say(line: str) -> None:
    """A line on stderr, if there is still one: a closed pipe must not stop the stop."""
    with contextlib.suppress(Exception):
        click.echo(line, err=True)


def _give_up(command: str, name: str) -> None:
    _say(f"{command}: still running {LIMIT:g} s after {name}; leaving now")
    _exit(1)


def leave(stop: Stop) -> None:
    """End the process now if work was left running on a thread (a normal exit would wait
    for that thread: a postback or a job can take minutes); else simply return."""
    if stop.abandoned:
        _exit(0)


def _exit(status: int) -> None:
    logging.shutdown()  # flushes the log handlers
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(status)
