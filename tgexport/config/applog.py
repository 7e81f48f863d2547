"""App logs `app.log` (INFO+) and `errors.log` (WARNING+) with run id and `error_code=` suffix."""
from __future__ import annotations

import logging
import secrets
import sys
import time
from logging.handlers import RotatingFileHandler
from pathlib import Path

from errors import ConfigError

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


class AppLogError(ConfigError):
    """The app-log folder or one of its files cannot be created or opened."""


class _AppLogHandler(RotatingFileHandler):
    """Rotating file handler that drops a record it cannot write instead of printing a traceback."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802
        if isinstance(sys.exc_info()[1], OSError):
            return  # stderr is reserved for the one `Error:` line; a failed disk write must not add more
        super().handleError(record)


def rotating_handler(
    path: Path,
    level: int,
    formatter: logging.Formatter,
    *,
    handler_class: type[RotatingFileHandler] = RotatingFileHandler,
) -> RotatingFileHandler:
    """A UTF-8 handler rotating `path` at MAX_BYTES (BACKUPS kept); opens the file now, not lazily."""
    handler = handler_class(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
    handler.setLevel(level)
    handler.setFormatter(formatter)
    return handler


def _file_handler(path: Path, level: int) -> RotatingFileHandler:
    """An app-log handler; an unusable file fails here rather than at the first record."""
    handler = rotating_handler(path, level, UtcFormatter(), handler_class=_AppLogHandler)
    handler.addFilter(RunIdFilter())  # sets run_id and error_suffix, which UtcFormatter's format needs
    setattr(handler, _HANDLER_TAG, True)
    return handler


def _open_handlers(log_dir: Path) -> list[RotatingFileHandler]:
    """Create `log_dir` and open both log files; AppLogError (nothing left open) when that fails."""
    handlers: list[RotatingFileHandler] = []
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        for name, level in (("app.log", logging.INFO), ("errors.log", logging.WARNING)):
            handlers.append(_file_handler(log_dir / name, level))
    except OSError as exc:
        for handler in handlers:
            handler.close()
        where = f"{Path(exc.filename).name}: " if exc.filename and Path(exc.filename) != log_dir else ""
        raise AppLogError(f"cannot write app logs in {log_dir}: {where}{exc.strerror or exc}") from exc
    return handlers


def open_app_logs(log_dir: Path, run_id: str | None = None) -> None:
    """Attach `app.log`/`errors.log` handlers under `log_dir` to the root logger (idempotent).

    Raises AppLogError before touching the root logger when the folder or a file cannot be opened.
    """
    set_run_id(run_id)
    handlers = _open_handlers(log_dir)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_TAG, False)]:
        root.removeHandler(old)
        old.close()
    for handler in handlers:
        root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)


def setup_app_logging(log_dir: Path, run_id: str | None = None) -> bool:
    """`open_app_logs`, returning False (and changing no handler) instead of raising AppLogError."""
    try:
        open_app_logs(log_dir, run_id)
    except AppLogError:
        return False
    return True
