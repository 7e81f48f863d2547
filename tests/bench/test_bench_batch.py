"""bench/batch_bench.py on a tiny scenario (12 channels): request counts and the rendered rows, no timing."""
from __future__ import annotations

import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH_DIR))

import batch_bench  # noqa: E402


def test_batch_bench_tiny(tmp_path: Path) -> None:
    sizes = batch_bench.TINY
    result = batch_bench.run(sizes)
    (repeat,) = result["repeats"]
    assert repeat["unchanged_batch"]["beyond_connect"] == ["messages.getPeerDialogs"]
    assert repeat["unchanged_batch"]["new_messages"] == 0
    assert repeat["new_batch"]["get_history"] == sizes.channels  # one page each, ended by the dialog's top id
    assert repeat["new_batch"]["new_messages"] == sizes.channels * sizes.new
    assert repeat["new_singles_get_history"] == [2] * sizes.sample  # the single path still ends on an empty page
    text = batch_bench.render(result)
    assert "| 12 unchanged joined channels, one batch run | requests beyond connect-time ones | 1 " in text
    doc = tmp_path / "BENCHMARKS.md"
    doc.write_text(f"# B\n\n{batch_bench.BEGIN}\nold\n{batch_bench.END}\n\ntail\n", encoding="utf-8")
    batch_bench.write_section(doc, "new rows")
    assert doc.read_text(encoding="utf-8") == f"# B\n\n{batch_bench.BEGIN}\n\nnew rows\n\n{batch_bench.END}\n\ntail\n"
