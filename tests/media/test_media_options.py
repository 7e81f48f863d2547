"""`--media-stall-timeout`: validated like the other numeric options; defaults per mode; env override."""
from __future__ import annotations

from pathlib import Path

import pytest

from errors import ConfigError
from testkit.cli import cli_env, json_error, run_cli
from tgexport.config.modes import MODES
from tgexport.config.options import ParseOptions
from tgexport.media.download import MediaDownloader


def test_option_values() -> None:
    assert ParseOptions.build("@c", "out").media_stall_timeout is None
    assert ParseOptions.build("@c", "out", media_stall_timeout="2.5").media_stall_timeout == 2.5
    for bad in ("0", "-1", "abc", "nan"):
        with pytest.raises(ConfigError, match="--media-stall-timeout"):
            ParseOptions.build("@c", "out", media_stall_timeout=bad)
    assert (MODES["safe"].stall_timeout, MODES["normal"].stall_timeout) == (120.0, 60.0)


def test_cli_rejects_a_bad_value(tmp_path: Path) -> None:
    done = run_cli(["parse", "--channel", "@some_channel", "--media-stall-timeout", "soon"], cli_env(tmp_path))
    assert done.returncode == 1
    json_error(done, "CONFIG_ERROR")
    assert done.stderr.startswith("Error: --media-stall-timeout must be a number")


def _stall(monkeypatch: pytest.MonkeyPatch, mode: str, option: float | None, env: str | None) -> float:
    if env is None:
        monkeypatch.delenv("TELEGRAM_PARSER_MEDIA_STALL_TIMEOUT", raising=False)
    else:
        monkeypatch.setenv("TELEGRAM_PARSER_MEDIA_STALL_TIMEOUT", env)
    dl = MediaDownloader(client=None, entity=None, export_dir=Path("x"), temp_dir=Path("y"), preset=MODES[mode],
                         log=None, flood=None, sha_index={}, max_media_size_mb=None, run_id="r",  # type: ignore[arg-type]
                         stall_timeout=option)
    return dl.stall_sec


def test_stall_timeout_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _stall(monkeypatch, "safe", None, None) == 120.0
    assert _stall(monkeypatch, "normal", None, None) == 60.0
    assert _stall(monkeypatch, "normal", None, "7") == 7.0  # environment over the mode
    assert _stall(monkeypatch, "normal", 3.0, "7") == 3.0  # the option over both
