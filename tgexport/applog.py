"""App logs `app.log` (INFO+) and `errors.log` (WARNING+) with run id and `error_code=` suffix."""
from __future__ import annotations

import logging
import secrets
import time
from logging.handlers import RotatingFileHandler
from pathlib import Path

MAX_BYTES = 2 * 1024 * 1024
BACKUPS = 10
_HANDLER_TAG = "_tgexport_applog"

_run_id: str | None = None


def new_run_id() -> str:
    """A fresh run id: 8 lowercase hex characters."""
    return secrets.token_hex(4)


def set_run_id(run_id: str | None) -> None:
    """Set the process-wide run id shown in every app-log line (`-` when None)."""
    global _run_id
    _run_id = run_id


def current_run_id() -> str | None:
    """The run id set by `set_run_id`, if any."""
    return _run_id


class RunIdFilter(logging.Filter):
    """Adds `run_id` (or `-`) and the ` error_code=CODE` suffix to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "run_id", None):
            record.run_id = _run_id or "-"
        code = getattr(record, "error_code", None)
        record.error_suffix = f" error_code={code}" if code else ""
        return True


class UtcFormatter(logging.Formatter):
    """`YYYY-MM-DD HH:MM:SS,mmmZ LEVEL [run_id] logger.name: message[ error_code=CODE]`."""

    converter = time.gmtime

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s [%(run_id)s] %(name)s: %(message)s%(error_suffix)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", self.converter(record.created))
        return f"{stamp},{int(record.msecs):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        for attr, default in (("run_id", _run_id or "-"), ("error_suffix", "")):
            if not hasattr(record, attr):
                setattr(record, attr, default)
        return super().format(record)


def _file_handler(path: Path, level: int) -> RotatingFileHandler:
    handler = RotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8", delay=True)
    handler.setLevel(level)
    handler.setFormatter(UtcFormatter())
    handler.addFilter(RunIdFilter())
    setattr(handler, _HANDLER_TAG, True)
    return handler


def setup_app_logging(log_dir: Path, run_id: str | None = None) -> bool:
    """Attach `app.log`/`errors.log` handlers under `log_dir` to the root logger (idempotent).

    Returns False (and logs nowhere) when the folder cannot be created.
    """
    set_run_id(run_id)
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _HANDLER_TAG, False)]:
        root.removeHandler(handler)
        handler.close()
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    root.addHandler(_file_handler(log_dir / "app.log", logging.INFO))
    root.addHandler(_file_handler(log_dir / "errors.log", logging.WARNING))
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    return True


def log_error(logger: logging.Logger, message: str, code: str, level: int = logging.ERROR) -> None:
    """Log `message` with ` error_code=code` appended."""
    logger.log(level, message, extra={"error_code": code})
