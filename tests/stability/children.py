"""Helper child processes of the stability tests: start one and wait until it prints `ready`."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.stability.sigint import sigint_catchable

ROOT = Path(__file__).resolve().parents[2]


def start_ready_child(code: str, *args: str) -> subprocess.Popen[str]:
    """Run `python -c code args…` from the repo root (SIGINT deliverable, stdin a pipe) and
    return once its first line is `ready`; fail with its stderr otherwise."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    with sigint_catchable():
        proc = subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, env=env, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if line != "ready":
        proc.kill()
        raise AssertionError(f"child did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}")
    return proc
