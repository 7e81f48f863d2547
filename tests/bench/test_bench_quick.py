"""The benchmark code paths (bench/export_bench.py, bench/report.py, bench/run_parser.py) on a tiny scenario.

Runs every parser case of issue 7 once at tiny sizes against a real server process on loopback and checks
what does not depend on timing: request counts, message counts, the bytes ratio, the rendered table and
the BENCHMARKS.md section swap. No timing is asserted.
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

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny() -> dict[str, Any]:
    """One run of every case at export_bench.TINY sizes (300 messages, 50 new)."""
    return export_bench.run(export_bench.TINY)


def test_incremental_runs_ask_for_what_is_new_only(tiny: dict[str, Any]) -> None:
    export, sizes = tiny["export"], tiny["sizes"]
    assert tiny["sizes"]["history"] == 300 and sizes["new"] == 50
    assert export["unchanged_get_history"]["max"] == 1
    assert 1 <= export["new_get_history"]["max"] <= 6
    assert export["full_get_history"]["min"] >= sizes["history"] // 100
    run = export["runs"]["new"][0]
    assert run["new_messages"] == sizes["new"]


def test_bytes_ratio_counts_files_not_stdout(tiny: dict[str, Any]) -> None:
    full = tiny["export"]["runs"]["full"][0]
    assert full["export_json_bytes"] > 0 and full["stdout_bytes"] > 0
    assert full["file_bytes"] >= full["export_json_bytes"]  # export.json itself was written at least once
    ratio = tiny["export"]["bytes_over_export"]["median"]
    assert math.isfinite(ratio) and ratio >= 1


def test_memory_and_startup_are_measured(tiny: dict[str, Any]) -> None:
    assert set(tiny["memory"]) == {"300"}
    assert tiny["memory"]["300"]["maxrss_mb"] > 10
    assert tiny["startup"]["ratio"]["n"] == 1 and tiny["startup"]["ratio"]["median"] > 0
    assert all(math.isfinite(v) and v > 0 for v in (tiny["export"]["full_over_raw"]["median"],
                                                   tiny["export"]["unchanged_over_full"]["median"]))


def test_table_is_rendered_and_swapped_into_the_markdown(tiny: dict[str, Any], tmp_path: Path) -> None:
    latest = {"machine": {"nproc": "2", "git": "abc1234"}, "command": "python bench/run_all.py",
              "started_utc": "2026-01-01T00:00:00Z", "total_seconds": 1.0, "export": tiny}
    section = report.render(latest)
    assert section.startswith(report.BEGIN) and section.endswith(report.END)
    assert "| full export, 300 text messages |" in section
    assert "| incremental, 50 new messages | getHistory calls (server request log) |" in section
    md = tmp_path / "BENCHMARKS.md"
    md.write_text(f"# Title\n\nintro\n\n{report.BEGIN}\nold numbers\n{report.END}\n\nnotes after\n", encoding="utf-8")
    report.write_section(md, section)
    text = md.read_text(encoding="utf-8")
    assert "old numbers" not in text and text.count(report.BEGIN) == 1
    assert text.startswith("# Title\n\nintro\n\n") and text.endswith("\n\nnotes after\n")
    assert "abc1234" in text
