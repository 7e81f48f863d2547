"""App-log format (docs/contract.md section 6): UTC `,mmmZ` stamps, `[run_id]` or `[-]`, ` error_code=` suffix."""
from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from logging.handlers import RotatingFileHandler
from pathlib import Path

import pytest

from tgexport.config import applog

LINE_RE = re.compile(
    r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3}Z) (INFO|WARNING|ERROR) \[([0-9a-f]{8}|-)\] ([\w.]+): (.*)$"
)


@pytest.fixture
def log_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "logs"
    applog.set_run_id(None)
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_tgexport_applog", False)]:
        root.removeHandler(handler)
        handler.close()


def test_run_id_is_8_hex() -> None:
    ids = {applog.new_run_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(re.fullmatch(r"[0-9a-f]{8}", i) for i in ids)


def test_line_format_levels_and_error_code(log_dir: Path) -> None:
    assert applog.setup_app_logging(log_dir, "0a1b2c3d")
    log = logging.getLogger("tgexport.sample")
    log.debug("hidden")
    log.info("hello %s", "world")
    log.error("went wrong", extra={"error_code": "NETWORK_ERROR"})
    log.warning("careful")
    applog.set_run_id(None)
    log.info("no run")
    app = (log_dir / "app.log").read_text(encoding="utf-8").splitlines()
    errs = (log_dir / "errors.log").read_text(encoding="utf-8").splitlines()
    assert [LINE_RE.match(x).group(2, 3, 4, 5) for x in app] == [
        ("INFO", "0a1b2c3d", "tgexport.sample", "hello world"),
        ("ERROR", "0a1b2c3d", "tgexport.sample", "went wrong error_code=NETWORK_ERROR"),
        ("WARNING", "0a1b2c3d", "tgexport.sample", "careful"),
        ("INFO", "-", "tgexport.sample", "no run"),
    ]
    assert [LINE_RE.match(x).group(2) for x in errs] == ["ERROR", "WARNING"]


def test_rotation_settings(log_dir: Path) -> None:
    applog.setup_app_logging(log_dir, "deadbeef")
    handlers = [h for h in logging.getLogger().handlers if getattr(h, "_tgexport_applog", False)]
    assert len(handlers) == 2
    for handler in handlers:
        assert isinstance(handler, RotatingFileHandler)
        assert handler.maxBytes == 2 * 1024 * 1024
        assert handler.backupCount == 10
    assert sorted(Path(h.baseFilename).name for h in handlers) == ["app.log", "errors.log"]


def test_setup_is_idempotent(log_dir: Path) -> None:
    applog.setup_app_logging(log_dir, "00000001")
    applog.setup_app_logging(log_dir, "00000002")
    logging.getLogger("x").info("once")
    assert len((log_dir / "app.log").read_text(encoding="utf-8").splitlines()) == 1
    assert "[00000002]" in (log_dir / "app.log").read_text(encoding="utf-8")


def test_unusable_log_dir_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert applog.setup_app_logging(blocker / "logs", "00000003") is False
