"""Unit tests of the inclusive whole-UTC-day date window."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from tgexport.history.pages import DateWindow


def test_date_to_covers_its_whole_day() -> None:
    window = DateWindow(date(2024, 3, 1), date(2024, 3, 2))
    assert not window.before(datetime(2024, 3, 1, 0, 0, 0, tzinfo=UTC))
    assert window.before(datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC))
    assert not window.after(datetime(2024, 3, 2, 23, 59, 59, tzinfo=UTC))
    assert window.after(datetime(2024, 3, 3, 0, 0, 0, tzinfo=UTC))


def test_other_time_zones_are_compared_in_utc() -> None:
    window = DateWindow(None, date(2024, 3, 2))
    plus3 = timezone(timedelta(hours=3))
    assert not window.after(datetime(2024, 3, 3, 2, 59, tzinfo=plus3))  # 23:59 UTC on the 2nd
    assert window.after(datetime(2024, 3, 3, 3, 0, tzinfo=plus3))


def test_open_window() -> None:
    window = DateWindow()
    moment = datetime(2000, 1, 1)
    assert not window.before(moment) and not window.after(moment)
    assert window.start is None and window.end is None
