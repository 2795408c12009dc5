"""`make run`'s processes (gateway/cli/demo_run.py), started by the very line make runs: one
SIGTERM to it (what make passes on when it gets one), or one SIGINT to its process group
(a terminal's Ctrl-C), stops the site and the stand-in; nothing is left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from gateway.cli import demo_run
from tests.servers import ROOT, started
from tests.smtp import free_port
from tests.test_stopping import command_env


def recipe_line(port: int, sim_port: int) -> str:
    """The line `make run` ends with, as make runs it (`make -n` prints it, runs nothing)."""
    printed = subprocess.run(
        ["make", "-n", "--no-print-directory", "run", f"VENV={sys.prefix}"]
        + ["HOST=127.0.0.1", f"PORT={port}", f"SIM_PORT={sim_port}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    lines = [line for line in printed.splitlines() if "gateway.cli.demo_run" in line]
    assert len(lines) == 1 and lines[0].startswith("exec "), printed
    return lines[0]


@pytest.mark.parametrize("how", ["SIGTERM to it", "SIGINT to its group"])
def test_one_signal_stops_the_site_and_the_stand_in(app, tmp_path, how):
    """Once both answer, does one signal end every process of the group, quietly and
    without a SIGKILL, with status 0 (so make prints no error line)?"""
    port, sim_port = free_port(), free_port()
    line = recipe_line(port, sim_port)
    env = command_env(app, tmp_path)
    with started(["sh", "-c", line], env, sigint=signal.SIG_DFL, own_group=True) as process:
        process.wait_for_http(f"http://127.0.0.1:{port}/healthz")
        process.wait_for_http(f"http://127.0.0.1:{sim_port}/sim/api/clock")
        if how == "SIGTERM to it":
            took = process.seconds_to_exit(signal.SIGTERM)
        else:
            took = process.seconds_to_exit(signal.SIGINT, group=True)
        with pytest.raises(ProcessLookupError):  # no process is left in its group
            os.killpg(process.proc.pid, 0)
    assert process.proc.returncode == 0, process.text
    assert took < demo_run.BOUND, (took, process.text)  # no child had to be killed
    assert "Traceback" not in process.text and "killed" not in process.text, process.text
