"""Every relative link in the repository's Markdown (README*.md, SKILL.md, BENCHMARKS.md, docs/) points at a
file inside the repository that exists, and at a heading of it when the link names one."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"(?<!!)\[[^\]\n]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
CODE_SPAN = re.compile(r"`[^`\n]*`")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
EXTERNAL = ("http://", "https://", "mailto:", "tg://")


def markdown_files(root: Path) -> list[Path]:
    return sorted([*root.glob("*.md"), *(root / "docs").rglob("*.md")])


def links(text: str) -> list[str]:
    """Link targets outside code blocks and code spans."""
    text = CODE_SPAN.sub("", FENCE.sub("", text))
    return [m[1] for m in LINK.finditer(text)]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    return {slug(m[1]) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*$", text, re.M)}


def broken_links(root: Path) -> list[str]:
    """`file: target (why)` for every relative link that does not resolve inside `root`."""
    broken = []
    for path in markdown_files(root):
        for target in links(path.read_text(encoding="utf-8")):
            if target.startswith(EXTERNAL):
                continue
            name, _, anchor = target.partition("#")
            dest = (path.parent / name).resolve() if name else path.resolve()
            where = f"{path.relative_to(root)}: {target}"
            if not dest.is_relative_to(root.resolve()):
                broken.append(f"{where} (outside the repository)")
            elif not dest.exists():
                broken.append(f"{where} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                broken.append(f"{where} (no such heading)")
    return broken


def test_every_relative_link_resolves() -> None:
    assert broken_links(ROOT) == []


def test_docs_do_not_point_outside_the_repository() -> None:
    """Plain-text mentions of the shared spec folder count too: the repository must stand alone."""
    mentions = [str(p.relative_to(ROOT)) for p in markdown_files(ROOT)
                if "shared/spec" in p.read_text(encoding="utf-8")]
    assert mentions == []


def test_the_checker_sees_each_kind_of_broken_link(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# Title here\n")
    (tmp_path / "README.md").write_text(
        "[ok](docs/a.md#title-here) [web](https://x.org) `[code](nope.md)`\n"
        "[gone](docs/missing.md) [out](../elsewhere.md) [heading](docs/a.md#nope)\n")
    assert broken_links(tmp_path) == [
        "README.md: docs/missing.md (no such file)",
        "README.md: ../elsewhere.md (outside the repository)",
        "README.md: docs/a.md#nope (no such heading)",
    ]


@pytest.mark.parametrize(("heading", "expected"), [
    ("Exit codes and error codes", "exit-codes-and-error-codes"),
    ("`parse --refresh-recent`", "parse---refresh-recent"),
    ("Behind a proxy", "behind-a-proxy"),
    ("`text_markdown`", "text_markdown"),
])
def test_slug(heading: str, expected: str) -> None:
    assert slug(heading) == expected


def test_every_parser_module_is_in_the_architecture_doc() -> None:
    """docs/architecture.md's rooms table names every module of tgexport/ (a new room gets a row)."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    modules = [str(p.relative_to(ROOT / "tgexport")) for p in sorted((ROOT / "tgexport").rglob("*.py"))
               if p.name != "__init__.py" or p.parent.name == "media"]
    assert [m for m in modules if f"`{m}`" not in text] == []
