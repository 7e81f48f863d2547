"""SKILL.md (the agent skill) matches the CLI: front matter with name and description, only commands
and options that `--help` lists, and exactly the error codes errors.py defines. README.ru.md too."""
from __future__ import annotations

import re

import pytest

import errors
from testkit.cli import REPO_ROOT
from tgexport.cli.args import COMMANDS, build_parser

SKILL = (REPO_ROOT / "SKILL.md").read_text(encoding="utf-8")
RU = (REPO_ROOT / "README.ru.md").read_text(encoding="utf-8")
CODE_RE = re.compile(r"\b[A-Z][A-Z0-9]*_(?:[A-Z0-9]+_)*(?:ERROR|LIMIT|LOCKED|FAILURE|DELAY)\b")


def test_front_matter_names_the_skill_and_says_when_to_use_it() -> None:
    match = re.match(r"---\n(.*?)\n---\n", SKILL, re.S)
    assert match, "SKILL.md must start with YAML front matter"
    keys = {ln.split(":", 1)[0] for ln in match.group(1).splitlines() if re.match(r"^[a-z_]+:", ln)}
    assert {"name", "description"} <= keys
    assert re.search(r"^name: [a-z0-9-]+$", match.group(1), re.M)
    assert "Use when" in match.group(1)


@pytest.mark.parametrize("text", [SKILL, RU], ids=["SKILL.md", "README.ru.md"])
def test_every_command_it_runs_exists(text: str) -> None:
    used = set(re.findall(r"(?:telegram_parser_skill\.py|tg-channel-parser) ([a-z]+)", text))
    assert used == set(COMMANDS)


@pytest.mark.parametrize("text", [SKILL, RU], ids=["SKILL.md", "README.ru.md"])
def test_every_option_it_mentions_is_in_help(text: str) -> None:
    help_text = build_parser().format_help()
    mentioned = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", text))
    assert mentioned, "no options found"
    missing = sorted(opt for opt in mentioned if not re.search(rf"(?<![\w-]){opt}(?![\w-])", help_text))
    assert not missing, f"SKILL.md mentions options --help does not list: {missing}"


@pytest.mark.parametrize("text", [SKILL, RU], ids=["SKILL.md", "README.ru.md"])
def test_error_codes_are_exactly_those_of_errors_py(text: str) -> None:
    table = set(re.findall(r"^\| `([A-Z_]+)` \|", text, re.M))
    assert table == set(errors.ERROR_CODES), "the error table must list every code errors.py defines, no other"
    assert set(CODE_RE.findall(text)) <= set(errors.ERROR_CODES)


def test_readme_links_the_migration_guide_the_russian_quick_start_and_the_skill() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    for target in ("docs/migrating.md", "README.ru.md", "SKILL.md", "docs/windows.md"):
        assert f"]({target})" in readme and (REPO_ROOT / target).is_file()
