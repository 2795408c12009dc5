"""The long-running commands, as real processes: each stops within 5 s of one SIGTERM, and
of one SIGINT unless SIGINT came ignored (gateway/stopping.py, paypal_sim/serving.py).

The suite itself may run with SIGINT ignored (a background job of a script): the SIGINT
starts give their child SIGINT's default action explicitly, as a terminal's would be.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable

import pytest

from gateway.stopping import LIMIT
from tests.servers import ROOT, Started, seconds_to_exit, started, stop_process
from tests.smtp import free_port

#: What the commands promise, measured from the signal.
STOPS_WITHIN = 5.0
FLASK = [sys.executable, "-m", "flask"]


def command_env(app, tmp_path) -> dict[str, str]:
    """The test's database and a throwaway instance folder, for a real process."""
    return dict(
        os.environ,
        GATEWAY_SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
        GATEWAY_SECRET_KEY="stopping-test-secret-key-0123456789",
        GATEWAY_INSTANCE_PATH=str(tmp_path),
    )


def jobs_run(port: int) -> tuple[list[str], Callable[[Started], object]]:
    return [*FLASK, "--app", "app", "jobs", "run"], lambda p: p.wait_for("scheduler started")


def inbox_loop(port: int, interval: float = 60) -> tuple[list[str], Callable[[Started], object]]:
    """Idle rounds `interval` s apart: the signal must end the wait between two at once."""
    command = [*FLASK, "--app", "app", "inbox", "process", "--loop", "--interval", str(interval)]
    return command, lambda p: p.wait_for("processed 0 message(s)")


def serve_demo(port: int) -> tuple[list[str], Callable[[Started], object]]:
    command = [*FLASK, "--app", "app", "serve-demo", "--port", str(port)]
    return command, lambda p: p.wait_for_http(f"http://127.0.0.1:{port}/healthz")


def paypal_sim(port: int) -> tuple[list[str], Callable[[Started], object]]:
    command = [*FLASK, "--app", "paypal_sim", "run", "--port", str(port)]
    return command, lambda p: p.wait_for_http(f"http://127.0.0.1:{port}/sim/api/clock")


COMMANDS = {
    "jobs run": jobs_run,
    "inbox process --loop": inbox_loop,
    "serve-demo": serve_demo,
    "paypal_sim run": paypal_sim,
}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_command_stops_within_5_s_of_one_signal(app, tmp_path, name, signum):
    """Does the command, once up, exit 0 within 5 s of one signal, printing no traceback?"""
    command, up = COMMANDS[name](free_port())
    sigint = signal.SIG_DFL if signum == signal.SIGINT else None  # else inherited as it is
    with started(command, command_env(app, tmp_path), sigint=sigint) as process:
        up(process)
        took = process.seconds_to_exit(signum)
    assert process.proc.returncode == 0, process.text
    assert took < STOPS_WITHIN, (took, process.text)
    assert "Traceback" not in process.text, process.text


def test_an_ignored_sigint_stays_ignored(app, tmp_path):
    """Started with SIGINT ignored (nohup, a background job), does the worker keep working
    through a SIGINT, and still stop on SIGTERM?"""
    command, up = inbox_loop(0, interval=0.05)
    with started(command, command_env(app, tmp_path), sigint=signal.SIG_IGN) as process:
        up(process)
        process.proc.send_signal(signal.SIGINT)
        for _ in range(2):  # a round begun before the signal, then one begun after it
            process.wait_for("processed 0 message(s)")
        took = process.seconds_to_exit(signal.SIGTERM)
    assert process.proc.returncode == 0 and took < STOPS_WITHIN, (took, process.text)
    assert "SIGINT" not in process.text, process.text


STUCK = """
import threading
from gateway import stopping
stopping.install(stopping.Stop(), "stuck")
print("up", flush=True)
threading.Event().wait()  # never looks at its stop
"""


def test_a_process_that_does_not_stop_is_gone_at_the_limit(tmp_path):
    """Does a process that ignores its stop still end, status 1, when the limit is reached?"""
    with started([sys.executable, "-c", STUCK]) as process:
        process.wait_for("up")
        took = process.seconds_to_exit(signal.SIGTERM)
    assert process.proc.returncode == 1, process.text
    assert took >= LIMIT and "leaving now" in process.text, (took, process.text)


def test_a_command_whose_output_is_gone_still_stops(app, tmp_path):
    """With the pipe it prints to closed (its reader gone), does one SIGTERM still end the
    scheduler within 5 s? (Its "stopping" line then fails to print.)"""
    read, write = os.pipe()
    command, _ = jobs_run(0)
    env = command_env(app, tmp_path) | {"PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=write, stderr=write, text=True)
    os.close(write)
    try:
        with os.fdopen(read) as output:  # closed once the scheduler is up
            for line in output:
                if "scheduler started" in line:
                    break
        took = seconds_to_exit(proc, signal.SIGTERM)
        assert took < STOPS_WITHIN, took
    finally:
        stop_process(proc)
