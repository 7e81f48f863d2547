"""`--proxy URL` / `TELEGRAM_PROXY`: SOCKS5, SOCKS4, HTTP CONNECT and MTProxy URLs (and Telegram's share
links) parsed into what Telethon's TelegramClient takes; shown everywhere only as `scheme://host:port`."""
from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from errors import ConfigError

PROXY_ENV = "TELEGRAM_PROXY"
ACCEPTED_FORMS = (
    "socks5://[user:pass@]host:port, socks4://host:port, http://[user:pass@]host:port, "
    "https://t.me/socks?server=HOST&port=PORT[&user=U&pass=P], tg://socks?…, "
    "mtproxy://SECRET@host:port, https://t.me/proxy?server=HOST&port=PORT&secret=SECRET, tg://proxy?…"
)
SOCKS_KINDS = {"socks5": "socks5", "socks5h": "socks5", "socks4": "socks4", "socks4a": "socks4", "http": "http"}
SHARE_HOSTS = {"t.me", "www.t.me", "telegram.me", "www.telegram.me"}
FAKE_TLS_PREFIX = 0xEE
SECURE_PREFIX = 0xDD
SECRET_BYTES = 16


@dataclass(frozen=True)
class ProxySpec:
    """One proxy: `kind` is socks5, socks4, http or mtproxy; credentials and secret never in `repr`."""

    kind: str
    host: str
    port: int
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    secret: str | None = field(default=None, repr=False)  # MTProxy secret, hex (32 digits, or dd + 32)

    @property
    def display(self) -> str:
        """The redacted form for logs, stdout and messages: `scheme://host:port`."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.kind}://{host}:{self.port}"

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `TelegramClient(...)`: `proxy=` (and `connection=` for MTProxy)."""
        if self.kind == "mtproxy":
            from telethon.network.connection import (
                ConnectionTcpMTProxyIntermediate,
                ConnectionTcpMTProxyRandomizedIntermediate,
            )

            secure = bool(self.secret) and self.secret[:2].lower() == "dd"
            connection = ConnectionTcpMTProxyRandomizedIntermediate if secure else ConnectionTcpMTProxyIntermediate
            return {"connection": connection, "proxy": (self.host, self.port, self.secret)}
        return {"proxy": {"proxy_type": self.kind, "addr": self.host, "port": self.port, "rdns": True,
                          "username": self.username, "password": self.password}}


def _bad(reason: str) -> ConfigError:
    return ConfigError(f"--proxy: {reason}; accepted forms: {ACCEPTED_FORMS}")


def _port(raw: str | int | None) -> int:
    try:
        port = int(str(raw).strip())
    except (TypeError, ValueError):
        raise _bad("the port is missing or not a number") from None
    if not 1 <= port <= 65535:
        raise _bad(f"port {port} is out of range 1-65535")
    return port


def _host(raw: str | None) -> str:
    host = (raw or "").strip().strip("[]")
    if not host or any(c.isspace() or c in "/?#@" for c in host):
        raise _bad("the host is missing or malformed")
    return host


def _secret_bytes(raw: str) -> bytes:
    text = raw.strip()
    try:
        return bytes.fromhex(text)
    except ValueError:
        pass
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise _bad("the MTProxy secret is neither hex nor base64") from None


def mtproxy_secret(raw: str | None) -> str:
    """The secret as hex Telethon takes (32 digits, or `dd` + 32); ConfigError for fake-TLS (`ee…`)."""
    if not (raw or "").strip():
        raise _bad("the MTProxy secret is missing")
    data = _secret_bytes(str(raw))
    if data[:1] == bytes([FAKE_TLS_PREFIX]):
        raise _bad("fake-TLS MTProxy secrets (starting with ee) are not supported by Telethon; "
                   "use the proxy's plain (32 hex digits) or dd secret")
    if len(data) == SECRET_BYTES + 1 and data[0] == SECURE_PREFIX:
        return data.hex()
    if len(data) != SECRET_BYTES:
        raise _bad("an MTProxy secret is 16 bytes: 32 hex digits, optionally prefixed with dd")
    return data.hex()


def _query(query: str) -> dict[str, str]:
    return {key: values[-1] for key, values in parse_qs(query, keep_blank_values=True).items()}


def _share_link(kind: str, query: str) -> ProxySpec:
    """t.me/socks, t.me/proxy, tg://socks and tg://proxy links."""
    params = _query(query)
    host, port = _host(params.get("server")), _port(params.get("port"))
    if kind == "socks":
        return ProxySpec("socks5", host, port, params.get("user") or None, params.get("pass") or None)
    return ProxySpec("mtproxy", host, port, secret=mtproxy_secret(params.get("secret")))


def _netloc_port(parts: Any) -> int:
    try:
        return _port(parts.port)
    except ValueError:  # urlsplit's own check of the port
        raise _bad("the port is missing or not a number") from None


def parse_proxy(url: str | None) -> ProxySpec | None:
    """The proxy `url` names, None for empty; ConfigError naming the accepted forms when malformed.

    The message never repeats the URL (it may hold a password or secret)."""
    text = (url or "").strip()
    if not text:
        return None
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme == "tg" and parts.netloc.lower() in ("socks", "proxy"):
        return _share_link(parts.netloc.lower(), parts.query)
    if scheme in ("http", "https") and (parts.hostname or "") in SHARE_HOSTS:
        path = parts.path.strip("/").lower()
        if path in ("socks", "proxy"):
            return _share_link(path, parts.query)
    if scheme == "mtproxy":
        return ProxySpec("mtproxy", _host(parts.hostname), _netloc_port(parts),
                         secret=mtproxy_secret(unquote(parts.username or "")))
    if scheme not in SOCKS_KINDS:
        raise _bad(f"unknown proxy scheme {scheme + '://' if scheme else '(none)'}")
    if parts.path.strip("/") or parts.query:
        raise _bad("a proxy URL has no path or query")
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is not None and SOCKS_KINDS[scheme] == "socks4":
        raise _bad("SOCKS4 has no password")
    return ProxySpec(SOCKS_KINDS[scheme], _host(parts.hostname), _netloc_port(parts), user, password)


def proxy_from(option: str | None) -> ProxySpec | None:
    """`--proxy` when given (even empty: no proxy), else `TELEGRAM_PROXY`; None for no proxy."""
    return parse_proxy(option if option is not None else os.environ.get(PROXY_ENV))


def require_loopback_proxy(spec: ProxySpec | None) -> None:
    """With TELEGRAM_PARSER_REQUIRE_LOCAL_SERVER, ConfigError unless the proxy is on a loopback address."""
    from tgexport.session.database import is_loopback  # lazy: the CLI loads Telethon only after validation

    if spec is not None and not is_loopback(spec.host):
        raise ConfigError(f"proxy {spec.display} is not on a loopback address "
                          "(TELEGRAM_PARSER_REQUIRE_LOCAL_SERVER is set); refusing to connect")
