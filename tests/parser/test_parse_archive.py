"""Unit tests of `--zip`: archive beside the directory, relative entries only, no temp files."""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from tgexport.store.archive import archive_path, make_archive


def _export(tmp_path: Path) -> Path:
    root = tmp_path / "chan__2024-01-01_00-00"
    (root / "media" / "photos").mkdir(parents=True)
    (root / "logs").mkdir()
    (root / ".tmp").mkdir()
    (root / "export.json").write_text("{}", encoding="utf-8")
    (root / "media" / "photos" / "1_a.jpg").write_bytes(b"jpeg")
    (root / "media" / "photos" / "2_report.tmp").write_bytes(b"a real file named .tmp")
    (root / "logs" / "run.log").write_text("{}\n", encoding="utf-8")
    (root / ".tmp" / "partial.part").write_bytes(b"x")
    (root / ".export.json.abc.tmp").write_text("torn", encoding="utf-8")
    return root


def test_archive_contents(tmp_path: Path) -> None:
    root = _export(tmp_path)
    target = make_archive(root)
    assert target == archive_path(root) == tmp_path / "chan__2024-01-01_00-00.zip"
    with zipfile.ZipFile(target) as archive:
        names = archive.namelist()
        assert archive.read("media/photos/1_a.jpg") == b"jpeg"
    assert sorted(names) == ["export.json", "logs/run.log", "media/photos/1_a.jpg", "media/photos/2_report.tmp"]
    assert all(not n.startswith("/") and ".." not in n.split("/") and "\\" not in n for n in names)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chan__2024-01-01_00-00", "chan__2024-01-01_00-00.zip"]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")
def test_symlinks_are_not_followed(tmp_path: Path) -> None:
    root = _export(tmp_path)
    outside = tmp_path / "secret.txt"
    outside.write_text("secret", encoding="utf-8")
    (root / "link.txt").symlink_to(outside)
    with zipfile.ZipFile(make_archive(root)) as archive:
        assert "link.txt" not in archive.namelist()
