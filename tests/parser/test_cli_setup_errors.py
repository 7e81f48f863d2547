"""Startup failures before any command runs: a `.env` that cannot be read and an unusable app-log
folder each give exactly one `Error:` line on stderr and exit 1; CONFIG_ERROR is logged when the app
logs work. Real CLI subprocesses (none reaches a server), plus a few in-process checks."""
from __future__ import annotations

import io
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from errors import ConfigError
from testkit.cli import cli_env, json_error, read_app_log, run_cli
from tgexport.config import applog
from tgexport.config import environment as config

LINE_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3}Z (INFO|WARNING|ERROR) \[[0-9a-f]{8}\] [\w.]+: .*$")
BAD_BYTES = b"TELEGRAM_API_ID=1\nX=\xff\n"


def run_failing(tmp_path: Path, args: list[str], **overrides: str | None) -> tuple[str, dict[str, str]]:
    """Run the CLI; assert exit 1, a CONFIG_ERROR JSON error on stdout, one stderr line; return it and the env."""
    env = cli_env(tmp_path, **overrides)
    result = run_cli(args, env, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    json_error(result, "CONFIG_ERROR")
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and result.stderr == lines[0] + "\n", result.stderr
    return lines[0], env


def assert_config_error_logged(env: dict[str, str], error_line: str) -> None:
    """errors.log holds exactly one CONFIG_ERROR line, carrying the stderr message."""
    logged = [ln for ln in read_app_log(env, "errors.log").splitlines() if ln.endswith(" error_code=CONFIG_ERROR")]
    assert len(logged) == 1, read_app_log(env, "errors.log")
    assert LINE_RE.match(logged[0])
    assert error_line.removeprefix("Error: ") in logged[0]


def test_undecodable_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / "bad.env"
    env_file.write_bytes(BAD_BYTES + f"TELEGRAM_PARSER_LOG_DIR={tmp_path / 'env-logs'}\n".encode())
    offset = BAD_BYTES.index(b"\xff")
    line, env = run_failing(tmp_path, ["channels"], TELEGRAM_PARSER_ENV_FILE=str(env_file))
    assert line == f"Error: cannot read {env_file}: not UTF-8 text (byte 0xff at offset {offset})"
    assert_config_error_logged(env, line)
    assert not (tmp_path / "env-logs").exists()  # logs went where the real environment said


def test_env_path_is_a_directory(tmp_path: Path) -> None:
    env_dir = tmp_path / "dotenv-dir"
    env_dir.mkdir()
    line, env = run_failing(tmp_path, ["channels"], TELEGRAM_PARSER_ENV_FILE=str(env_dir))
    assert line == f"Error: cannot read {env_dir}: Is a directory"
    assert_config_error_logged(env, line)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_env_file_without_read_permission(tmp_path: Path) -> None:
    env_file = tmp_path / "secret.env"
    env_file.write_text("TELEGRAM_API_ID=1\n")
    env_file.chmod(0)
    line, env = run_failing(tmp_path, ["channels"], TELEGRAM_PARSER_ENV_FILE=str(env_file))
    assert line == f"Error: cannot read {env_file}: Permission denied"
    assert_config_error_logged(env, line)


def test_env_file_permission_error_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / "secret.env"
    env_file.write_text("TGEXPORT_TEST_MARKER=1\n")
    real_read_bytes = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self == env_file:
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    monkeypatch.setenv(config.ENV_FILE_ENV, str(env_file))
    monkeypatch.delenv("TGEXPORT_TEST_MARKER", raising=False)
    with pytest.raises(ConfigError, match=re.escape(f"cannot read {env_file}: Permission denied")):
        config.load_env_file()
    assert "TGEXPORT_TEST_MARKER" not in os.environ


def test_env_file_with_bom_and_bad_line_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / "win.env"
    env_file.write_bytes("\ufeffTGEXPORT_TEST_MARKER=yes\nnot a statement\n".encode())
    monkeypatch.setenv(config.ENV_FILE_ENV, str(env_file))
    monkeypatch.delenv("TGEXPORT_TEST_MARKER", raising=False)
    loaded = config.load_env_file()
    assert loaded is not None and loaded.path == env_file
    assert os.environ["TGEXPORT_TEST_MARKER"] == "yes"
    assert len(loaded.warnings) == 1 and "line 2" in loaded.warnings[0]


def test_env_parse_warning_goes_to_app_log_not_stderr(tmp_path: Path) -> None:
    env_file = tmp_path / "junk.env"
    env_file.write_text("this is not NAME=value\n")
    line, env = run_failing(tmp_path, ["parse"], TELEGRAM_PARSER_ENV_FILE=str(env_file))
    assert line == "Error: --channel is required for parse"
    warnings = [ln for ln in read_app_log(env).splitlines() if " WARNING " in ln and str(env_file) in ln]
    assert len(warnings) == 1 and "line 1" in warnings[0], read_app_log(env)
    assert_config_error_logged(env, line)


def test_log_dir_under_a_device(tmp_path: Path) -> None:
    line, _ = run_failing(tmp_path, ["channels"], TELEGRAM_PARSER_LOG_DIR="/dev/null/x")
    assert line == "Error: cannot write app logs in /dev/null/x: Not a directory"


@pytest.mark.parametrize("name", ["app.log", "errors.log"])
def test_log_file_is_a_directory(tmp_path: Path, name: str) -> None:
    log_dir = tmp_path / "logs"
    (log_dir / name).mkdir(parents=True)
    line, _ = run_failing(tmp_path, ["channels"], TELEGRAM_PARSER_LOG_DIR=str(log_dir))
    assert line == f"Error: cannot write app logs in {log_dir}: {name}: Is a directory"
    assert sorted(p.name for p in log_dir.iterdir() if p.is_file()) in ([], ["app.log"])


def test_bad_env_and_bad_log_dir_report_the_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / "bad.env"
    env_file.write_bytes(BAD_BYTES)
    line, _ = run_failing(
        tmp_path, ["channels"], TELEGRAM_PARSER_ENV_FILE=str(env_file), TELEGRAM_PARSER_LOG_DIR="/dev/null/x"
    )
    assert line.startswith(f"Error: cannot read {env_file}: not UTF-8 text")


@pytest.fixture
def clean_root() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    yield root
    applog.set_run_id(None)
    for handler in [h for h in root.handlers if getattr(h, "_tgexport_applog", False)]:
        root.removeHandler(handler)
        handler.close()


def test_failed_open_keeps_existing_handlers(tmp_path: Path, clean_root: logging.Logger) -> None:
    applog.open_app_logs(tmp_path / "good", "0000000a")
    before = list(clean_root.handlers)
    (tmp_path / "bad" / "errors.log").mkdir(parents=True)
    with pytest.raises(applog.AppLogError, match="errors.log: Is a directory"):
        applog.open_app_logs(tmp_path / "bad", "0000000b")
    assert clean_root.handlers == before


class _BrokenStream(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError(28, "No space left on device")


def test_write_failure_later_prints_nothing(
    tmp_path: Path, clean_root: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    applog.open_app_logs(tmp_path / "logs", "0000000c")
    for handler in [h for h in clean_root.handlers if getattr(h, "_tgexport_applog", False)]:
        handler.stream.close()
        handler.stream = _BrokenStream()
    logging.getLogger("tgexport.sample").error("disk is full")
    assert capsys.readouterr().err == ""
