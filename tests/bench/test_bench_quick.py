"""The benchmark code paths (bench/export_bench.py, bench/report.py, bench/run_parser.py) on a tiny scenario.

Runs every parser case of issue 7 once at tiny sizes against a real server process on loopback and checks
what does not depend on timing: request counts, message counts, the bytes ratio, the rendered table and
the BENCHMARKS.md section swap. No timing is asserted. One test runs the cases (so that the suite's
xdist workers do not each build the scenario).
"""
from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH_DIR))

import export_bench  # noqa: E402
import report  # noqa: E402


def _check_requests(tiny: dict[str, Any]) -> None:
    export, sizes = tiny["export"], tiny["sizes"]
    assert sizes["history"] == 300 and sizes["new"] == 50
    assert export["unchanged_get_history"]["max"] == 1
    assert 1 <= export["new_get_history"]["max"] <= 6
    assert export["full_get_history"]["min"] >= sizes["history"] // 100
    assert export["runs"]["new"][0]["new_messages"] == sizes["new"]


def _check_bytes(tiny: dict[str, Any]) -> None:
    full = tiny["export"]["runs"]["full"][0]
    assert full["export_json_bytes"] > 0 and full["stdout_bytes"] > 0
    assert full["file_bytes"] >= full["export_json_bytes"]  # export.json itself was written at least once
    ratio = tiny["export"]["bytes_over_export"]["median"]
    assert math.isfinite(ratio) and ratio >= 1


def _check_memory_and_startup(tiny: dict[str, Any]) -> None:
    assert set(tiny["memory"]) == {"300"}
    assert tiny["memory"]["300"]["maxrss_mb"] > 10
    assert tiny["startup"]["ratio"]["n"] == 1 and tiny["startup"]["ratio"]["median"] > 0
    export = tiny["export"]
    assert all(math.isfinite(v) and v > 0 for v in (export["full_over_raw"]["median"],
                                                   export["unchanged_over_full"]["median"],
                                                   export["full_cpu_over_raw_cpu"]["median"]))


def _check_rendering(tiny: dict[str, Any]) -> None:
    latest = {"machine": {"nproc": "2", "git": "abc1234"}, "command": "python bench/run_all.py",
              "started_utc": "2026-01-01T00:00:00Z", "total_seconds": 1.0, "export": tiny}
    section = report.render(latest)
    assert section.startswith(report.BEGIN) and section.endswith(report.END) and "abc1234" in section
    assert "| full export, 300 text messages |" in section
    assert "| incremental, 50 new messages | getHistory calls (server request log) |" in section


@pytest.mark.slow
def test_every_case_runs_on_a_tiny_scenario() -> None:
    tiny = export_bench.run(export_bench.TINY)
    _check_requests(tiny)
    _check_bytes(tiny)
    _check_memory_and_startup(tiny)
    _check_rendering(tiny)


def test_write_section_replaces_only_the_marked_part(tmp_path: Path) -> None:
    md = tmp_path / "BENCHMARKS.md"
    md.write_text(f"# Title\n\nintro\n\n{report.BEGIN}\nold numbers\n{report.END}\n\nnotes after\n", encoding="utf-8")
    report.write_section(md, f"{report.BEGIN}\nnew numbers\n{report.END}")
    text = md.read_text(encoding="utf-8")
    assert text == f"# Title\n\nintro\n\n{report.BEGIN}\nnew numbers\n{report.END}\n\nnotes after\n"
    fresh = tmp_path / "other.md"
    fresh.write_text("# Other\n", encoding="utf-8")
    report.write_section(fresh, f"{report.BEGIN}\nx\n{report.END}")
    assert fresh.read_text(encoding="utf-8").endswith(f"{report.BEGIN}\nx\n{report.END}\n")
