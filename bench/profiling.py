"""cProfile helpers for the benchmarks: per-file own time, top functions, profiling a CLI subprocess."""
from __future__ import annotations

import io
import pstats
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from common import REPO_ROOT


def short_path(path: str) -> str:
    """Repo-relative, or relative to site-packages / the stdlib."""
    for marker in (str(REPO_ROOT) + "/", "site-packages/", "lib/python3.11/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def by_file(stats: pstats.Stats, n: int = 25) -> str:
    """Own (tottime) seconds summed per source file: where the process spent its CPU and its waits."""
    per_file: dict[str, float] = {}
    for (path, _line, name), (_cc, _nc, tt, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        key = short_path(path) if path != "~" else f"<built-in> {name}"
        per_file[key] = per_file.get(key, 0.0) + tt
    total = sum(per_file.values()) or 1.0
    rows = sorted(per_file.items(), key=lambda kv: -kv[1])[:n]
    lines = [f"own time by file (total {total:.3f} s)"]
    lines += [f"{secs:8.3f} s {100 * secs / total:5.1f}%  {key}" for key, secs in rows]
    return "\n".join(lines) + "\n"


def top_functions(stats: pstats.Stats, n: int = 30) -> str:
    """pstats listings by own time and by cumulative time, paths shortened."""
    out = io.StringIO()
    stats.stream = out  # type: ignore[attr-defined]
    stats.sort_stats("tottime").print_stats(n)
    stats.sort_stats("cumulative").print_stats(n)
    return re.sub(r"/[^\s:]+\.py", lambda m: short_path(m.group(0)), out.getvalue())


def report(prof: Path, out_txt: Path) -> str:
    """Write the by-file and top-function report of a saved profile to `out_txt`."""
    stats = pstats.Stats(str(prof))
    out_txt.parent.mkdir(parents=True, exist_ok=True)
    out_txt.write_text(by_file(stats) + "\n" + top_functions(stats), encoding="utf-8")
    return str(out_txt)


def profile_parser_run(cli_args: Sequence[str], env: dict[str, str], cwd: Path, out_txt: Path) -> str:
    """One CLI run through bench/run_parser.py with only `main()` profiled (imports excluded)."""
    prof = cwd / "run.prof"
    runner = Path(__file__).resolve().parent / "run_parser.py"
    subprocess.run([sys.executable, str(runner), "--profile", str(prof), str(cwd / "stats.json"), *cli_args],
                   env=env, cwd=cwd, check=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=300)
    return report(prof, out_txt)


def profile_cli(argv: Sequence[str], env: dict[str, str], cwd: Path, out_txt: Path) -> str:
    """Run `python ARGV…` (a script and its args) under cProfile; write the report to `out_txt`."""
    prof = cwd / "cli.prof"
    subprocess.run([sys.executable, "-m", "cProfile", "-o", str(prof), *argv], env=env, cwd=cwd, check=True,
                   capture_output=True, stdin=subprocess.DEVNULL, timeout=300)
    stats = pstats.Stats(str(prof))
    text = by_file(stats) + "\n" + top_functions(stats)
    out_txt.parent.mkdir(parents=True, exist_ok=True)
    out_txt.write_text(text, encoding="utf-8")
    return str(out_txt)
