"""Unit tests: ParseOptions.build validation (ConfigError with a clear message)."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from errors import ConfigError
from tgexport.config.options import DEFAULT_MAX_FLOOD_WAIT, ParseOptions


def test_defaults(tmp_path: Path) -> None:
    opts = ParseOptions.build("@chan", tmp_path)
    assert opts.mode == "safe" and opts.date_from is None and opts.keywords == ()
    assert opts.max_media_size_mb is None and not opts.dry_run and not opts.zip_output and opts.cleanup_temp
    assert opts.max_flood_wait == DEFAULT_MAX_FLOOD_WAIT and opts.output_dir == tmp_path


def test_values_are_parsed(tmp_path: Path) -> None:
    opts = ParseOptions.build("x", str(tmp_path), mode="normal", date_from="2024-01-02", date_to=date(2024, 1, 2),
                              keyword_filter=["Foo", "foo", "bar", ""], max_media_size_mb="5",
                              max_flood_wait=0)
    assert opts.mode == "normal" and opts.preset.parallel_downloads == 2
    assert opts.date_from == opts.date_to == date(2024, 1, 2)
    assert opts.keywords == ("Foo", "bar") and opts.max_media_size_mb == 5.0 and opts.max_flood_wait == 0
    assert ParseOptions.build("x", tmp_path, keyword_filter="a b").keywords == ("a", "b")


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"date_from": "2024-13-01"}, "--date-from"),
        ({"date_to": "01.02.2024"}, "--date-to"),
        ({"date_from": "2024-1-1"}, "--date-from"),
        ({"date_from": "2024-02-02", "date_to": "2024-02-01"}, "after --date-to"),
        ({"max_media_size_mb": "-1"}, "--max-media-size"),
        ({"max_media_size_mb": "ten"}, "--max-media-size"),
        ({"max_media_size_mb": "nan"}, "--max-media-size"),
        ({"max_flood_wait": -5}, "--max-flood-wait"),
        ({"mode": "turbo"}, "--mode"),
    ],
)
def test_bad_values_raise_config_error(tmp_path: Path, kwargs: dict, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        ParseOptions.build("x", tmp_path, **kwargs)
    assert needle in info.value.message and info.value.code == "CONFIG_ERROR"


def test_channel_required(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--channel"):
        ParseOptions.build("  ", tmp_path)
