"""CLI argument and configuration errors: one `Error:` line, CONFIG_ERROR in the app log, exit 1,
nothing written besides the app logs. Real CLI subprocesses; none of these reach a server."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from telethon.sessions import SQLiteSession

from testkit.cli import cli_env, json_error, read_app_log, run_cli

LINE_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3}Z (DEBUG|INFO|WARNING|ERROR|CRITICAL) "
    r"\[([0-9a-f]{8}|-)\] [\w.]+: .*$"
)


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def assert_config_error(tmp_path: Path, args: list[str], fragment: str, **env_overrides: str | None) -> str:
    """Run the CLI; check exit 1, one Error line containing `fragment`, CONFIG_ERROR logged, no files."""
    env = cli_env(tmp_path, **env_overrides)
    before = files_under(tmp_path)
    old_log = read_app_log(env, "errors.log")
    result = run_cli(args, env, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    json_error(result, "CONFIG_ERROR")
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert fragment in lines[0]
    errors_log = read_app_log(env, "errors.log")[len(old_log):]
    error_lines = [ln for ln in errors_log.splitlines() if ln.endswith("error_code=CONFIG_ERROR")]
    assert len(error_lines) == 1, errors_log
    assert lines[0][len("Error: "):] in error_lines[0]
    assert LINE_RE.match(error_lines[0])
    created = files_under(tmp_path) - before
    assert created <= {"applogs", "applogs/app.log", "applogs/errors.log"}, created
    return error_lines[0]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["resolve"], "--channel is required for resolve"),
        (["parse"], "--channel is required for parse"),
        (["parse", "--channel", "   "], "--channel is required for parse"),
        (["parse", "--channel", "demo_channel", "--date-from", "2024-1-5"], "--date-from must be a date as YYYY-MM-DD"),
        (["parse", "--channel", "demo_channel", "--date-to", "2024-13-01"], "--date-to must be a date as YYYY-MM-DD"),
        (["parse", "--channel", "demo_channel", "--date-from", "yesterday"], "--date-from must be a date"),
        (["parse", "--channel", "demo_channel", "--date-from", "2024-02-02", "--date-to", "2024-02-01"],
         "--date-from 2024-02-02 is after --date-to 2024-02-01"),
        (["parse", "--channel", "demo_channel", "--max-media-size", "-1"], "--max-media-size must be a number"),
        (["parse", "--channel", "demo_channel", "--max-media-size", "lots"], "--max-media-size must be a number"),
        (["parse", "--channel", "demo_channel", "--max-flood-wait", "-5"], "--max-flood-wait must be a number"),
        (["channels", "--lock-wait", "soon"], "--lock-wait must be a number"),
        (["resolve", "--channel", "https://example.com/demo_channel"], "invalid channel identifier"),
        (["resolve", "--channel", "https://t.me/demo_channel/abc"], "post number 'abc'"),
        (["parse", "--channel", "https://t.me/+InviteHash"], "invite links are not supported"),
        (["resolve", "--channel", "-12345"], "marked channel ids starting with -100"),
        (["export"], "invalid choice: 'export'"),
        ([], "the following arguments are required: command"),
        (["channels", "--bogus"], "unrecognized arguments: --bogus"),
        (["parse", "--channel", "demo_channel", "--mode", "fast"], "argument --mode: invalid choice"),
        (["channels", "--session-file", ""], "--session-file must not be empty"),
    ],
)
def test_bad_arguments(tmp_path: Path, args: list[str], fragment: str) -> None:
    assert_config_error(tmp_path, args, fragment)


def test_unwritable_output_dir(tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    assert_config_error(
        tmp_path, ["parse", "--channel", "demo_channel", "--output-dir", str(blocker / "sub")],
        f"{blocker} is not a directory",
    )


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
def test_output_dir_that_refuses_writes(tmp_path: Path) -> None:
    # /proc refuses new files even for root, where os.access() would say "writable".
    assert_config_error(
        tmp_path, ["parse", "--channel", "demo_channel", "--output-dir", "/proc/exports"],
        "/proc is not writable",
    )


def test_output_dir_from_env_is_checked(tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    assert_config_error(
        tmp_path, ["parse", "--channel", "demo_channel"], "is not a directory",
        TELEGRAM_PARSER_OUTPUT_DIR=str(blocker / "exports"),
    )


@pytest.mark.parametrize("missing", ["TELEGRAM_API_ID", "TELEGRAM_API_HASH"])
@pytest.mark.parametrize("command", [["channels"], ["resolve", "--channel", "@demo_channel"],
                                     ["parse", "--channel", "demo_channel"]])
def test_missing_api_credentials(tmp_path: Path, missing: str, command: list[str]) -> None:
    assert_config_error(tmp_path, command, f"{missing} not set", **{missing: None})


def test_non_numeric_api_id(tmp_path: Path) -> None:
    assert_config_error(tmp_path, ["channels"], "TELEGRAM_API_ID must be a positive integer",
                        TELEGRAM_API_ID="12ab")


def test_dotenv_supplies_credentials_and_real_env_wins(tmp_path: Path) -> None:
    env_file = tmp_path / "custom.env"
    env_file.write_text("TELEGRAM_API_ID=777\nTELEGRAM_API_HASH=fromdotenv\nTELEGRAM_PARSER_OUTPUT_DIR=bad\n")
    # .env fills in the missing credentials: the run gets past them to the session guard.
    line = assert_config_error(
        tmp_path, ["channels", "--session-file", "nosuch"], "session file nosuch.session does not exist",
        TELEGRAM_API_ID=None, TELEGRAM_API_HASH=None, TELEGRAM_PARSER_ENV_FILE=str(env_file),
    )
    assert "fromdotenv" not in line
    # a value from .env never overrides the real environment
    env_file.write_text("TELEGRAM_API_ID=not-a-number\n")
    assert_config_error(tmp_path, ["channels", "--session-file", "nosuch"], "does not exist",
                        TELEGRAM_PARSER_ENV_FILE=str(env_file))


def test_missing_session_file_is_refused(tmp_path: Path) -> None:
    assert_config_error(tmp_path, ["channels", "--session-file", "nosuch"],
                        "session file nosuch.session does not exist")
    assert not (tmp_path / "nosuch.session").exists()


def test_session_folder_missing(tmp_path: Path) -> None:
    assert_config_error(tmp_path, ["channels", "--session-file", str(tmp_path / "no" / "dir" / "s")],
                        "session folder does not exist")


def test_non_loopback_session_is_refused(tmp_path: Path) -> None:
    """The guard that keeps tests off the real Telegram: a session naming a public DC is refused."""
    session = SQLiteSession(str(tmp_path / "remote"))
    session.set_dc(2, "149.154.167.51", 443)
    session.save()
    session.close()
    assert_config_error(tmp_path, ["resolve", "--channel", "@demo_channel", "--session-file", "remote"],
                        "does not point at a loopback server")


def test_session_without_address_is_refused(tmp_path: Path) -> None:
    session = SQLiteSession(str(tmp_path / "empty"))
    session.save()
    session.close()
    assert_config_error(tmp_path, ["channels", "--session-file", "empty.session"],
                        "does not point at a loopback server")


def test_garbage_session_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "junk.session").write_bytes(b"not sqlite at all" * 100)
    assert_config_error(tmp_path, ["channels", "--session-file", "junk"], "is not a Telethon session")


def test_help_exits_zero(tmp_path: Path) -> None:
    result = run_cli(["--help"], cli_env(tmp_path), cwd=tmp_path)
    assert result.returncode == 0
    for option in ("--channel", "--mode", "--date-from", "--date-to", "--keyword-filter", "--max-media-size",
                   "--dry-run", "--zip", "--output-dir", "--session-file", "--no-cleanup-temp",
                   "--max-flood-wait", "--lock-wait"):
        assert option in result.stdout
