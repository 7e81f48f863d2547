"""Auth-key exchange with a real Telethon client, over every TCP transport."""
from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from telethon.crypto import rsa as telethon_rsa
from telethon.network import ConnectionTcpAbridged, ConnectionTcpFull, ConnectionTcpIntermediate
from telethon.sessions import SQLiteSession
from telethon.tl.functions import ReqDHParamsRequest, ReqPqMultiRequest

from telegram_test_server.protocol import keys
from telegram_test_server.protocol.handshake import Handshake, HandshakeError
from testkit.server import MiniApi, address_only_session, make_session, open_client, server_call


@pytest.fixture
def core_server(server_factory):
    return server_factory(None, api=MiniApi())


def test_server_key_is_registered_with_telethon():
    keys.register_with_telethon()
    assert keys.fingerprint() in telethon_rsa._server_keys
    assert telethon_rsa.encrypt(keys.fingerprint(), b"x" * 32) is not None


def test_handshake_only_session_holds_the_servers_key(core_server, tmp_path: Path):
    path = make_session(core_server, tmp_path / "h.session", authorized=False)
    session = SQLiteSession(str(path))
    assert (session.server_address, session.port, session.dc_id) == ("127.0.0.1", core_server.port, 2)
    assert session.auth_key.key_id in core_server.auth.key_ids()
    assert core_server.handshakes == 1
    # Telethon's first encrypted message carries salt 0: bad_server_salt, resend, new session.
    assert core_server.counters["bad_server_salt"] >= 1
    assert core_server.counters["new_session_created"] >= 1
    [config] = core_server.requests.entries("help.getConfig")
    assert config["auth_key_id"] == f"{session.auth_key.key_id:016x}"


def test_client_with_a_key_does_not_handshake_again(core_server, tmp_path: Path):
    path = make_session(core_server, tmp_path / "h.session", authorized=False)
    key_id = SQLiteSession(str(path)).auth_key.key_id
    server_call(core_server, core_server.auth.bind, key_id, 100001)

    async def main():
        async with open_client(path) as client:
            return (await client.get_me()).id, await client.is_user_authorized()

    assert asyncio.run(main()) == (100001, True)
    assert core_server.handshakes == 1


@pytest.mark.parametrize("connection", [ConnectionTcpFull, ConnectionTcpIntermediate, ConnectionTcpAbridged])
def test_handshake_and_calls_over_each_transport(core_server, tmp_path: Path, connection):
    path = address_only_session(core_server, tmp_path / "t.session")

    async def main():
        async with open_client(path, connection=connection) as client:
            return await client.is_user_authorized()

    assert asyncio.run(main()) is False  # getUsers(self) answered AUTH_KEY_UNREGISTERED
    assert core_server.handshakes == 1
    assert core_server.requests.count("users.getUsers") >= 1


def _nonce() -> int:
    return int.from_bytes(os.urandom(16), "little", signed=True)


def test_handshake_rejects_a_wrong_server_nonce():
    hs = Handshake()
    res_pq = hs.handle(ReqPqMultiRequest(nonce=_nonce()))
    bad = ReqDHParamsRequest(nonce=res_pq.nonce, server_nonce=res_pq.server_nonce ^ 1, p=b"\x01", q=b"\x01",
                             public_key_fingerprint=keys.fingerprint(), encrypted_data=b"\0" * 256)
    with pytest.raises(HandshakeError, match="nonce"):
        hs.handle(bad)


def test_handshake_rejects_an_unknown_fingerprint_and_wrong_factors():
    hs = Handshake()
    res_pq = hs.handle(ReqPqMultiRequest(nonce=_nonce()))
    common = dict(nonce=res_pq.nonce, server_nonce=res_pq.server_nonce, encrypted_data=b"\0" * 256)
    with pytest.raises(HandshakeError, match="fingerprint"):
        hs.handle(ReqDHParamsRequest(p=b"\x01", q=b"\x01", public_key_fingerprint=1, **common))
    with pytest.raises(HandshakeError, match="factorisation"):
        hs.handle(ReqDHParamsRequest(p=b"\x01", q=b"\x01", public_key_fingerprint=keys.fingerprint(), **common))
