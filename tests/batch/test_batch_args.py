"""The channel options of `parse` (--channel A B, repeated, --channels-file, --all-channels) and their checks."""
from __future__ import annotations

import io
from pathlib import Path

import pytest

from errors import ConfigError
from testkit.cli import cli_env, json_error, read_app_log, run_cli
from tgexport.cli.args import build_parser, validate_args


def validated(tmp_path: Path, *argv: str):
    args = build_parser().parse_args([*argv, "--output-dir", str(tmp_path / "out")])
    validate_args(args)
    return args


def test_channel_values_and_list_file_in_input_order(tmp_path: Path) -> None:
    listing = tmp_path / "list.txt"
    listing.write_text("\ufeff# mirrors\n\nt.me/c_three/7   # a post link names its channel\n  -1001234  \n",
                       encoding="utf-8")
    args = validated(tmp_path, "parse", "--channel", "c_one", "@c_two", "--channels-file", str(listing))
    assert args.channels == ["c_one", "@c_two", "t.me/c_three/7", "-1001234"]
    assert args.batch and args.options.channel == "c_one"
    repeated = validated(tmp_path, "parse", "--channel", "c_one", "--channel", "c_two")
    assert repeated.channels == ["c_one", "c_two"] and repeated.batch


def test_one_channel_is_not_a_batch_but_a_list_file_always_is(tmp_path: Path, monkeypatch) -> None:
    assert not validated(tmp_path, "parse", "--channel", "c_one").batch
    monkeypatch.setattr("sys.stdin", io.StringIO("c_one\n"))
    args = validated(tmp_path, "parse", "--channels-file", "-")
    assert args.channels == ["c_one"] and args.batch
    everything = validated(tmp_path, "parse", "--all-channels")
    assert everything.channels is None and everything.batch


@pytest.mark.parametrize(("argv", "fragment"), [
    (["parse", "--all-channels", "--channel", "c_one"], "--all-channels cannot be combined"),
    (["parse", "--all-channels", "--channels-file", "-"], "--all-channels cannot be combined"),
    (["parse", "--channel", "c_one", "bad name!"], "invalid channel identifier"),
    (["parse", "--channels-file", "missing.txt"], "--channels-file missing.txt: cannot read it"),
    (["resolve", "--channel", "c_one", "c_two"], "resolve takes exactly one --channel"),
    (["resolve", "--all-channels"], "resolve takes exactly one --channel"),
    (["parse"], "--channel is required for parse"),
])
def test_bad_combinations(tmp_path: Path, monkeypatch, argv: list[str], fragment: str) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=fragment):
        validated(tmp_path, *argv)


@pytest.mark.parametrize(("text", "fragment"), [
    ("c_one\n# only comments after\n\n", None),
    ("# nothing\n\n", "lists no channels"),
    ("c_one\nhttps://example.com/x\n", "line 2: invalid channel identifier"),
])
def test_list_file_contents(tmp_path: Path, text: str, fragment: str | None) -> None:
    listing = tmp_path / "list.txt"
    listing.write_text(text, encoding="utf-8")
    if fragment is None:
        assert validated(tmp_path, "parse", "--channels-file", str(listing)).channels == ["c_one"]
        return
    with pytest.raises(ConfigError, match=fragment):
        validated(tmp_path, "parse", "--channels-file", str(listing))


def test_bad_list_through_the_cli_is_one_error_line_and_exit_1(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    result = run_cli(["parse", "--channels-file", "-", "--output-dir", "out"], env, input="c_one\n!!\n")
    assert result.returncode == 1
    json_error(result, "CONFIG_ERROR")
    assert result.stderr == "Error: --channels-file -, line 2: invalid channel identifier '!!': expected a link " \
                            "(https://t.me/name), @name, name, a numeric id or -100… id\n"
    assert "CONFIG_ERROR" in read_app_log(env, "errors.log")
    assert not (tmp_path / "out").exists()
