"""Login through a real Telethon client: code, wrong code, unknown phone, 2FA with real SRP, log out,
and 401 AUTH_KEY_UNREGISTERED for keys that never signed in."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from telethon import errors
from telethon.tl import functions

from telegram_test_server.world.scenario import DEFAULT_CODE, DEFAULT_PHONE, DEFAULT_USER_ID
from testkit.server import make_session, open_client

SCENARIO = {
    "accounts": [
        {},
        {"user_id": 100002, "phone": "+1 555 0100-002", "code": "22222", "password": "pässwörd 2FA",
         "hint": "umlauts", "first_name": "Second", "username": "second_user"},
    ],
    "channels": [{"id": 1200000001, "username": "some_channel", "generate": {"count": 5}}],
}


@pytest.fixture
def server(server_factory):
    return server_factory(SCENARIO)


@pytest.fixture
def fresh(server, tmp_path: Path) -> Path:
    """A handshake-only session (an auth key that is not signed in)."""
    return make_session(server, tmp_path / "fresh.session", authorized=False)


def test_sign_in_with_code(server, fresh: Path) -> None:
    async def run() -> None:
        async with open_client(fresh) as client:
            assert not await client.is_user_authorized()
            sent = await client.send_code_request(DEFAULT_PHONE)
            assert sent.phone_code_hash and sent.type.length == len(DEFAULT_CODE)
            me = await client.sign_in(DEFAULT_PHONE, DEFAULT_CODE)
            assert (me.id, me.first_name, me.username, me.is_self) == (DEFAULT_USER_ID, "Test", "test_user", True)
            assert await client.is_user_authorized()
            assert (await client.get_me()).id == DEFAULT_USER_ID

    asyncio.run(run())
    assert server.requests.count("auth.signIn") == 1


def test_phone_without_plus_and_wrong_code(fresh: Path) -> None:
    async def run() -> None:
        async with open_client(fresh) as client:
            await client.send_code_request("15550100001")
            with pytest.raises(errors.PhoneCodeInvalidError):
                await client.sign_in("15550100001", "99999")
            me = await client.sign_in("15550100001", DEFAULT_CODE)
            assert me.id == DEFAULT_USER_ID

    asyncio.run(run())


def test_unknown_phone_needs_sign_up(fresh: Path) -> None:
    async def run() -> None:
        async with open_client(fresh) as client:
            await client.send_code_request("+15559999999")
            with pytest.raises(errors.PhoneNumberUnoccupiedError):
                await client.sign_in("+15559999999", "12345")

    asyncio.run(run())


def test_two_factor_login_with_srp(fresh: Path) -> None:
    async def run() -> None:
        async with open_client(fresh) as client:
            await client.send_code_request("+15550100002")
            with pytest.raises(errors.SessionPasswordNeededError):
                await client.sign_in("+15550100002", "22222")
            assert not await client.is_user_authorized()
            with pytest.raises(errors.PasswordHashInvalidError):
                await client.sign_in(password="wrong password")
            me = await client.sign_in(password="pässwörd 2FA")
            assert (me.id, me.first_name) == (100002, "Second")
            assert await client.is_user_authorized()
            password = await client(functions.account.GetPasswordRequest())
            assert password.has_password and password.hint == "umlauts"

    asyncio.run(run())


def test_make_session_with_password(server, tmp_path: Path) -> None:
    path = make_session(server, tmp_path / "twofa.session", phone="+15550100002", code="22222",
                        password="pässwörd 2FA")

    async def run() -> None:
        async with open_client(path) as client:
            assert (await client.get_me()).id == 100002

    asyncio.run(run())


def test_unauthorised_key_gets_401(fresh: Path) -> None:
    async def run() -> None:
        async with open_client(fresh) as client:
            assert await client.get_me() is None
            with pytest.raises(errors.AuthKeyUnregisteredError):
                await client(functions.updates.GetStateRequest())
            with pytest.raises(errors.AuthKeyUnregisteredError):
                await client(functions.contacts.ResolveUsernameRequest("some_channel"))
            config = await client(functions.help.GetConfigRequest())  # allowed before login
            assert config.dc_options

    asyncio.run(run())


def test_log_out_unbinds_the_key(server, tmp_path: Path) -> None:
    path = make_session(server, tmp_path / "out.session")

    async def run() -> None:
        async with open_client(path) as client:
            key_id = client.session.auth_key.key_id
            assert server.auth.user_for(key_id) == DEFAULT_USER_ID
            assert await client.log_out()
            assert server.auth.user_for(key_id) is None

    asyncio.run(run())


def test_unsupported_method_is_an_rpc_error_not_a_crash(server, tmp_path: Path) -> None:
    path = make_session(server, tmp_path / "u.session")

    async def run() -> None:
        async with open_client(path) as client:
            with pytest.raises(errors.BadRequestError, match="METHOD_NOT_SUPPORTED"):
                await client(functions.messages.GetAllStickersRequest(hash=0))
            assert (await client.get_me()).id == DEFAULT_USER_ID  # still serving

    asyncio.run(run())
