"""JSONL event logs of an export directory: `logs/run.log` (all) and `logs/errors.log` (errors)."""
from __future__ import annotations

import itertools
import json
import logging
from pathlib import Path
from typing import Any

from tgexport.config.applog import rotating_handler
from tgexport.core.timeutil import utc_now_iso

_ids = itertools.count()


class _JsonLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(record.msg, ensure_ascii=False, default=str)


class ExportLog:
    """Writes `{"ts", "level", "event", "data": {..., "run_id", "error_code"?}}` lines."""

    def __init__(self, export_dir: Path, run_id: str) -> None:
        logs_dir = Path(export_dir) / "logs"
        logs_dir.mkdir(parents=True, exist_ok=True)
        self.run_id = run_id
        self._logger = logging.getLogger(f"tgexport.store.log.{next(_ids)}")
        self._logger.propagate = False
        self._logger.setLevel(logging.INFO)
        self._logger.addHandler(rotating_handler(logs_dir / "run.log", logging.INFO, _JsonLineFormatter()))
        self._logger.addHandler(rotating_handler(logs_dir / "errors.log", logging.ERROR, _JsonLineFormatter()))

    def info(self, event: str, **data: Any) -> None:
        self._emit(logging.INFO, event, None, data)

    def error(self, event: str, error_code: str | None = None, **data: Any) -> None:
        self._emit(logging.ERROR, event, error_code, data)

    def _emit(self, level: int, event: str, error_code: str | None, data: dict[str, Any]) -> None:
        payload = {**data, "run_id": self.run_id}
        if error_code is not None:
            payload["error_code"] = error_code
        line = {"ts": utc_now_iso(), "level": logging.getLevelName(level), "event": event, "data": payload}
        self._logger.log(level, line)

    def close(self) -> None:
        for handler in list(self._logger.handlers):
            handler.close()
            self._logger.removeHandler(handler)
