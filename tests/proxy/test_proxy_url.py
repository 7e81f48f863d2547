"""`--proxy` URLs: every accepted form parses to what Telethon takes; malformed ones and fake-TLS secrets are
CONFIG_ERROR with the accepted forms and without the credentials."""
from __future__ import annotations

import pytest

from errors import CONFIG_ERROR, ConfigError
from tgexport.client.proxy import parse_proxy, proxy_from

SECRET = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(("url", "kind", "host", "port", "user", "password"), [
    ("socks5://127.0.0.1:1080", "socks5", "127.0.0.1", 1080, None, None),
    ("socks5://al%40ice:p%3Ass@proxy.example:1080", "socks5", "proxy.example", 1080, "al@ice", "p:ss"),
    ("SOCKS5H://h:1", "socks5", "h", 1, None, None),
    ("socks4://10.0.0.1:1081", "socks4", "10.0.0.1", 1081, None, None),
    ("http://user:pw@[::1]:3128", "http", "::1", 3128, "user", "pw"),
    ("https://t.me/socks?server=s.example&port=9050&user=u&pass=pw%26x", "socks5", "s.example", 9050, "u", "pw&x"),
    ("tg://socks?server=1.2.3.4&port=1080", "socks5", "1.2.3.4", 1080, None, None),
])
def test_socks_and_http_forms(url: str, kind: str, host: str, port: int, user: str | None,
                              password: str | None) -> None:
    spec = parse_proxy(url)
    assert spec is not None
    assert (spec.kind, spec.host, spec.port, spec.username, spec.password) == (kind, host, port, user, password)
    assert spec.client_kwargs() == {"proxy": {"proxy_type": kind, "addr": host, "port": port, "rdns": True,
                                              "username": user, "password": password}}
    assert spec.display.startswith(f"{kind}://") and (password or "\0") not in spec.display
    assert (password or "\0") not in repr(spec)


@pytest.mark.parametrize(("url", "secret", "connection"), [
    (f"mtproxy://{SECRET}@127.0.0.1:443", SECRET, "ConnectionTcpMTProxyIntermediate"),
    (f"mtproxy://dd{SECRET}@h:8443", "dd" + SECRET, "ConnectionTcpMTProxyRandomizedIntermediate"),
    (f"https://t.me/proxy?server=h&port=443&secret={SECRET}", SECRET, "ConnectionTcpMTProxyIntermediate"),
    (f"tg://proxy?server=h&port=443&secret=dd{SECRET}", "dd" + SECRET, "ConnectionTcpMTProxyRandomizedIntermediate"),
    ("tg://proxy?server=h&port=443&secret=ASNFZ4mrze8BI0VniavN7w", SECRET, "ConnectionTcpMTProxyIntermediate"),
])
def test_mtproxy_forms(url: str, secret: str, connection: str) -> None:
    spec = parse_proxy(url)
    assert spec is not None and spec.kind == "mtproxy" and spec.secret == secret
    kwargs = spec.client_kwargs()
    assert kwargs["connection"].__name__ == connection
    assert kwargs["proxy"] == (spec.host, spec.port, secret)
    assert secret not in spec.display and secret not in repr(spec)


@pytest.mark.parametrize(("url", "reason"), [
    ("ftp://h:1", "unknown proxy scheme"),
    ("h:1080", "unknown proxy scheme"),
    ("socks5://h", "port"),
    ("socks5://h:0", "out of range"),
    ("socks5://h:99999", "port"),
    ("socks5://:1080", "host"),
    ("socks5://u:secretpw@h:1080/path", "no path"),
    ("socks4://u:secretpw@h:1080", "SOCKS4"),
    ("https://t.me/socks?server=h", "port"),
    ("https://t.me/proxy?server=h&port=1", "secret is missing"),
    (f"mtproxy://ee{SECRET}7777772e676f6f676c652e636f6d@h:443", "fake-TLS"),
    (f"tg://proxy?server=h&port=1&secret=ee{SECRET}", "fake-TLS"),
    ("mtproxy://abcd@h:443", "16 bytes"),
    ("mtproxy://secret!!@h:443", "neither hex nor base64"),
])
def test_malformed_is_config_error_with_the_accepted_forms(url: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_proxy(url)
    message = caught.value.message
    assert caught.value.code == CONFIG_ERROR
    assert reason in message and "socks5://[user:pass@]host:port" in message and "mtproxy://" in message
    assert "secretpw" not in message and SECRET not in message


def test_option_wins_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_PROXY", "socks5://env:1")
    assert proxy_from(None).display == "socks5://env:1"
    assert proxy_from("http://opt:2").display == "http://opt:2"
    assert proxy_from("") is None  # an empty --proxy turns the environment's proxy off
    monkeypatch.delenv("TELEGRAM_PROXY")
    assert proxy_from(None) is None
