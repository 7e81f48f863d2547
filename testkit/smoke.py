"""Run a smoke module's `test_*` functions standalone, printing PASS/FAIL lines.

Smoke scripts are ordinary pytest modules; `run_smoke(globals())` in their
`if __name__ == "__main__"` block runs the same functions without pytest, so
both `python smoke_x.py` and `pytest smoke_x.py` exercise identical code.
Only fixtures named `tmp_path` are supported when run standalone.
"""
from __future__ import annotations

import inspect
import shutil
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _call(func: Callable[..., Any]) -> None:
    params = inspect.signature(func).parameters
    kwargs: dict[str, Any] = {}
    tmp: Path | None = None
    if "tmp_path" in params:
        tmp = Path(tempfile.mkdtemp(prefix=f"{func.__name__}-"))
        kwargs["tmp_path"] = tmp
    try:
        func(**kwargs)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def run_smoke(namespace: dict[str, Any], skip: Callable[[str], bool] = lambda name: False) -> int:
    """Run every `test_*` callable of `namespace` in definition order; return the exit code."""
    tests = [(n, f) for n, f in namespace.items() if n.startswith("test_") and callable(f)]
    failed = skipped = 0
    for name, func in tests:
        if skip(name):
            skipped += 1
            print(f"SKIP {name}")
            continue
        try:
            _call(func)
        except Exception:  # noqa: BLE001 - report every failure, keep going
            failed += 1
            print(f"FAIL {name}")
            traceback.print_exc(file=sys.stdout)
        else:
            print(f"PASS {name}")
    passed = len(tests) - failed - skipped
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    if passed == 0:
        print("no test passed")
        return 1
    return 1 if failed else 0
