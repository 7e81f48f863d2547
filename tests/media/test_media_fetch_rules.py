"""The part fetcher's requests always obey upload.getFile's rules (the local server's `check_part`),
from any resume point, and cover the missing bytes exactly once."""
from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from telegram_test_server.world.media import check_part
from tgexport.media.fetch import ALIGN, MAX_PART, limit_at, part_size_for, resume_offset, window_for


def _requests(start: int, size: int, part: int) -> list[tuple[int, int]]:
    out, offset = [], start
    while offset < size:
        limit = limit_at(offset, part)
        out.append((offset, limit))
        offset += limit
    return out


@given(st.integers(0, 3000), st.integers(1, 40 * MAX_PART), st.integers(0, 6))
def test_requests_are_valid_and_contiguous(blocks: int, size: int, stalls: int) -> None:
    start = min(blocks * ALIGN, size // ALIGN * ALIGN)
    part = part_size_for(stalls)
    requests = _requests(start, size, part)
    for offset, limit in requests:
        check_part(offset, limit, False)  # raises RpcError on LIMIT_INVALID / OFFSET_INVALID
    assert [o for o, _ in requests] == sorted({o for o, _ in requests})
    if requests:
        assert requests[0][0] == start and requests[-1][0] + requests[-1][1] >= size
    # parts grow back to full size within log2(part / 4 KiB) requests of a resume point
    assert all(limit == part for _, limit in requests[12:])


def test_resume_offset_drops_a_torn_write(tmp_path: Path) -> None:
    path = tmp_path / "document-1.part"
    assert resume_offset(path, 10 * ALIGN) == 0
    path.write_bytes(b"x" * (3 * ALIGN + 17))
    assert resume_offset(path, 10 * ALIGN) == 3 * ALIGN and path.stat().st_size == 3 * ALIGN
    path.write_bytes(b"x" * 1000)  # a complete small file is kept whole
    assert resume_offset(path, 1000) == 1000


def test_window_follows_the_rate() -> None:
    assert window_for(0, 60, MAX_PART) == 4  # nothing measured yet
    assert window_for(1e9, 60, MAX_PART) == 8  # fast: the per-file cap
    assert window_for(50_000, 120, MAX_PART) == 1  # 50 KB/s: one part at a time
    assert part_size_for(0) == MAX_PART and part_size_for(1) == MAX_PART // 2 and part_size_for(9) == 64 * 1024
