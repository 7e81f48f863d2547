"""Unit tests of `--channel` parsing (docs/contract.md section 3)."""
from __future__ import annotations

import pytest

from errors import CONFIG_ERROR, ConfigError
from tgexport.client.channel_ref import ChannelRef, parse_channel_ref


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://t.me/demo_channel/123", ChannelRef(username="demo_channel", post_id=123)),
        ("http://t.me/demo_channel", ChannelRef(username="demo_channel")),
        ("https://t.me/demo_channel/", ChannelRef(username="demo_channel")),
        ("t.me/demo_channel", ChannelRef(username="demo_channel")),
        ("t.me/demo_channel/7", ChannelRef(username="demo_channel", post_id=7)),
        ("https://telegram.me/demo_channel/5", ChannelRef(username="demo_channel", post_id=5)),
        ("telegram.me/demo_channel", ChannelRef(username="demo_channel")),
        ("https://telegram.dog/demo_channel", ChannelRef(username="demo_channel")),
        ("telegram.dog/demo_channel/9", ChannelRef(username="demo_channel", post_id=9)),
        ("https://www.t.me/demo_channel", ChannelRef(username="demo_channel")),
        ("HTTPS://T.ME/Demo_Channel/1?single", ChannelRef(username="Demo_Channel", post_id=1)),
        ("https://t.me/s/demo_channel/44", ChannelRef(username="demo_channel", post_id=44)),
        ("https://t.me/c/2614091536/12", ChannelRef(channel_id=2614091536, post_id=12)),
        ("@demo_channel", ChannelRef(username="demo_channel")),
        ("demo_channel", ChannelRef(username="demo_channel")),
        ("  demo_channel  ", ChannelRef(username="demo_channel")),
        ("2614091536", ChannelRef(channel_id=2614091536)),
        ("-1001234567890", ChannelRef(channel_id=1234567890)),
    ],
)
def test_accepted_forms(raw: str, expected: ChannelRef) -> None:
    assert parse_channel_ref(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "@",
        "https://example.com/demo_channel",
        "ftp://t.me/demo_channel",
        "https://t.me/",
        "https://t.me/demo_channel/abc",
        "https://t.me/demo_channel/0",
        "https://t.me/demo_channel/1/2",
        "https://t.me/+AbCdEf123",
        "https://t.me/joinchat/AbCdEf",
        "https://t.me/c/abc/1",
        "1demo",
        "demo channel",
        "demo-channel",
        "-12345",
        "0",
        "-100",
        "a" * 40,
    ],
)
def test_malformed_is_config_error(raw: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_channel_ref(raw)
    assert info.value.code == CONFIG_ERROR
    assert "\n" not in info.value.message


def test_describe() -> None:
    assert parse_channel_ref("@demo_channel").describe() == "@demo_channel"
    assert parse_channel_ref("-1001234567890").describe() == "id 1234567890"


def test_ref_needs_exactly_one_key() -> None:
    with pytest.raises(ValueError):
        ChannelRef()
    with pytest.raises(ValueError):
        ChannelRef(username="a", channel_id=1)
