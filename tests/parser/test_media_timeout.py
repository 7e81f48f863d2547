"""Size-adaptive media timeout boundaries (docs/contract.md section 4, `TELEGRAM_PARSER_MEDIA_TIMEOUT`) and the base-timeout override."""
from __future__ import annotations

import pytest

from tgexport.media.download import MEDIA_TIMEOUT_ENV, env_media_timeout
from tgexport.media.timeout import TIMEOUT_CAP_SEC, media_timeout

MB = 1024 * 1024


@pytest.mark.parametrize("base, size, expected", [
    (900.0, None, 900.0),          # unknown → base unchanged
    (1800.0, None, 1800.0),
    (900.0, 0, 900.0),             # zero bytes → base
    (900.0, MB, 960.0),            # + 60 s per MB
    (900.0, 45 * MB, 3600.0),      # exactly at the cap
    (900.0, 45 * MB + 1, 3600.0),  # just above → capped
    (1800.0, 10_000 * MB, 3600.0),
    (900.0, MB // 2, 930.0),
    (3600.0, MB, 3600.0),          # base already at the cap
    (7200.0, None, 7200.0),        # a base above the cap (env override) …
    (7200.0, 0, 7200.0),           # … is never lowered by a known size
    (7200.0, 100 * MB, 7200.0),
])
def test_media_timeout(base, size, expected):
    assert media_timeout(base, size) == pytest.approx(expected)


def test_cap_is_3600():
    assert TIMEOUT_CAP_SEC == 3600.0


@pytest.mark.parametrize("raw, expected", [("2.5", 2.5), ("", None), ("abc", None), ("0", None), ("-1", None)])
def test_env_override(monkeypatch, raw, expected):
    monkeypatch.setenv(MEDIA_TIMEOUT_ENV, raw)
    assert env_media_timeout() == expected
