"""Pacing presets `safe` / `normal` (docs/contract.md section 7) and the test-only pause scale."""
from __future__ import annotations

from dataclasses import dataclass

from tgexport.config.environment import env_number

PAUSE_SCALE_ENV = "TELEGRAM_PARSER_PAUSE_SCALE"


@dataclass(frozen=True)
class ModePreset:
    name: str
    page_pause: tuple[float, float]  # random pause between history pages, seconds
    flood_extra: float  # added to every FloodWait, seconds
    retries: int  # download retries, back-off 2**attempt seconds
    parallel_downloads: int
    media_timeout: float  # base media timeout, seconds
    stall_timeout: float  # no bytes for this long aborts a download attempt, seconds


MODES: dict[str, ModePreset] = {
    "safe": ModePreset("safe", (0.8, 1.5), 5.0, 5, 1, 1800.0, 120.0),
    "normal": ModePreset("normal", (0.3, 0.8), 3.0, 3, 2, 900.0, 60.0),
}


def pause_scale() -> float:
    """Multiplier for every voluntary pause (page pauses, FloodWait extra, retry back-off).

    `TELEGRAM_PARSER_PAUSE_SCALE=0` turns them off for tests and benchmarks; default 1.
    Waits Telegram demands (the FloodWait seconds themselves) are never scaled.
    """
    return env_number(PAUSE_SCALE_ENV, 1.0)


def backoff_delay(attempt: int) -> float:
    """Retry back-off: 2**attempt seconds times the pause scale (TELEGRAM_PARSER_PAUSE_SCALE)."""
    return float(2**attempt) * pause_scale()
