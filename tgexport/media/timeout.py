"""Size-adaptive media timeout (docs/contract.md, `TELEGRAM_PARSER_MEDIA_TIMEOUT`)."""
from __future__ import annotations

TIMEOUT_CAP_SEC = 3600.0
SECONDS_PER_MB = 60.0


def media_timeout(base: float, known_size: int | None) -> float:
    """`base + known_size_mb * 60`, capped at 3600 s; unknown size → `base` unchanged.

    The cap never goes below `base`: a known size must not get a shorter timeout than an
    unknown one when the base itself is set above 3600 s (TELEGRAM_PARSER_MEDIA_TIMEOUT).
    """
    if known_size is None or known_size < 0:
        return base
    return max(base, min(base + known_size / (1024 * 1024) * SECONDS_PER_MB, TIMEOUT_CAP_SEC))
