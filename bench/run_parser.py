"""Run the parser CLI in this process and record what the run cost: wall time, bytes written, peak RSS.

Usage: python bench/run_parser.py [--profile OUT.prof] STATS.json ARGS...   (ARGS as for telegram_parser_skill.py)

Every import the CLI needs (Telethon, the parser modules) happens first; the clock starts right before
`telegram_parser_skill.main(ARGS)` and stops when it returns (after disconnect and the stdout result).
Bytes written are the `wchar` delta of /proc/self/io over that call (every write()/pwrite() the run
made: export files, journal, logs, session database, stdout), with the stdout bytes counted separately
so that "bytes written to files" = wchar - stdout. CPU = user + system seconds over the call. Peak memory is the
process's peak RSS at exit (`VmHWM`, imports included; see `peak_rss_kb`).
STATS.json is written after the counters are read, so it is not part of them. `--profile` runs that
one call under cProfile (imports stay out of the profile, as they stay out of the clock).
"""
from __future__ import annotations

import cProfile
import io
import json
import os
import resource
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import telegram_parser  # noqa: E402, F401 - imported here so import time stays outside the clock
import telegram_parser_skill  # noqa: E402
import tgexport.run.parse  # noqa: E402, F401 - telegram_parser imports it lazily, on the first parse


class CountingStdout(io.RawIOBase):
    """A raw stream onto fd 1 that counts the bytes it writes."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(data)
        done = 0
        while done < len(view):
            done += os.write(1, view[done:])
        self.count += done
        return done


def proc_io() -> dict[str, int]:
    """/proc/self/io counters (empty where the file does not exist)."""
    try:
        text = Path("/proc/self/io").read_text()
    except OSError:
        return {}
    return {key: int(value) for key, value in (line.split(": ") for line in text.splitlines() if line)}


def _cpu() -> float:
    """User + system CPU seconds of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(argv: list[str], profile_to: Path | None = None) -> dict[str, float | int | None]:
    """Run the CLI once in-process; the cost of that one call (optionally profiled into `profile_to`)."""
    raw = CountingStdout()
    sys.stdout = io.TextIOWrapper(io.BufferedWriter(raw), encoding="utf-8")
    before, cpu0 = proc_io(), _cpu()
    profiler = cProfile.Profile() if profile_to else None
    t0 = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    code = telegram_parser_skill.main(argv)
    if profiler is not None:
        profiler.disable()
    seconds, cpu = time.perf_counter() - t0, _cpu() - cpu0
    sys.stdout.flush()
    after = proc_io()
    if profiler is not None and profile_to is not None:
        profiler.dump_stats(str(profile_to))
    delta = {key: after[key] - before.get(key, 0) for key in after}
    wchar = delta.get("wchar")
    return {
        "exit_code": code, "seconds": seconds, "cpu_seconds": cpu, "wchar": wchar, "write_bytes": delta.get("write_bytes"),
        "stdout_bytes": raw.count, "file_bytes": None if wchar is None else wchar - raw.count,
        "maxrss_kb": peak_rss_kb(),
    }


def peak_rss_kb() -> int:
    """Peak RSS of this process, in kB: `VmHWM` of /proc/self/status where it exists (Linux). Not
    `ru_maxrss` there: Linux carries the spawning process's peak RSS across exec into it, so a child
    of a big benchmark driver would report the driver's memory (measured: a 500 MB parent, a bare
    child: ru_maxrss 502 MB, VmHWM 13.5 MB). Elsewhere ru_maxrss."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> int:
    args = sys.argv[1:]
    profile_to = None
    if args[:1] == ["--profile"]:
        profile_to, args = Path(args[1]), args[2:]
    stats_path, argv = Path(args[0]), args[1:]
    stats = measure(argv, profile_to)
    stats_path.write_text(json.dumps(stats), encoding="utf-8")
    return int(stats["exit_code"] or 0)


if __name__ == "__main__":
    sys.exit(main())
