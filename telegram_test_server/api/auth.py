"""auth.* and account.getPassword: code login, 2FA with real SRP, log out."""
from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from telethon.tl import functions, types

from telegram_test_server.api import srp
from telegram_test_server.api.common import self_user
from telegram_test_server.protocol.rpc import CallContext, RpcError
from telegram_test_server.world.scenario import Account, normalize_phone

if TYPE_CHECKING:
    from telegram_test_server.api.router import ServerApi

log = logging.getLogger(__name__)


@dataclass
class LoginState:
    """Login progress of every auth key: issued code hashes, pending 2FA, SRP challenges."""

    code_hashes: dict[str, str] = field(default_factory=dict)  # phone_code_hash → phone digits
    pending_2fa: dict[int, int] = field(default_factory=dict)  # auth key id → user id
    challenges: dict[int, srp.Challenge] = field(default_factory=dict)  # auth key id → challenge


def _salts(seed: int, account: Account) -> tuple[bytes, bytes]:
    base = hashlib.sha256(f"salt:{seed}:{account.user_id}".encode()).digest()
    return base, base[:16]


async def send_code(api: ServerApi, req: functions.auth.SendCodeRequest, ctx: CallContext) -> types.auth.SentCode:
    """auth.sendCode: a code "sent" to the app (the scenario's configured code)."""
    digits = normalize_phone(req.phone_number)
    if not 5 <= len(digits) <= 15:
        raise RpcError(400, "PHONE_NUMBER_INVALID")
    code_hash = secrets.token_hex(8)
    api.logins.code_hashes[code_hash] = digits
    account = api.world.account_by_phone(digits)
    length = len(account.code) if account else 5
    return types.auth.SentCode(type=types.auth.SentCodeTypeApp(length=length), phone_code_hash=code_hash)


async def sign_in(api: ServerApi, req: functions.auth.SignInRequest, ctx: CallContext):
    """auth.signIn with the configured code; SESSION_PASSWORD_NEEDED for 2FA accounts."""
    digits = normalize_phone(req.phone_number)
    if api.logins.code_hashes.get(req.phone_code_hash) != digits:
        raise RpcError(400, "PHONE_CODE_EXPIRED")
    account = api.world.account_by_phone(digits)
    if not req.phone_code:
        raise RpcError(400, "PHONE_CODE_EMPTY")
    if account is None:
        return types.auth.AuthorizationSignUpRequired()
    if req.phone_code != account.code:
        raise RpcError(400, "PHONE_CODE_INVALID")
    del api.logins.code_hashes[req.phone_code_hash]
    if account.password is not None:
        api.logins.pending_2fa[ctx.auth_key_id] = account.user_id
        raise RpcError(401, "SESSION_PASSWORD_NEEDED")
    return _authorize(api, ctx, account.user_id)


def _authorize(api: ServerApi, ctx: CallContext, user_id: int) -> types.auth.Authorization:
    ctx.auth.bind(ctx.auth_key_id, user_id)
    api.logins.pending_2fa.pop(ctx.auth_key_id, None)
    api.logins.challenges.pop(ctx.auth_key_id, None)
    log.info("auth key %016x signed in", ctx.auth_key_id & (2**64 - 1))
    return types.auth.Authorization(user=self_user(api.world, user_id))


def _password_account(api: ServerApi, ctx: CallContext) -> Account:
    user_id = ctx.auth.user_for(ctx.auth_key_id) or api.logins.pending_2fa.get(ctx.auth_key_id)
    if user_id is None or user_id not in api.world.accounts:
        raise RpcError(401, "AUTH_KEY_UNREGISTERED")
    return api.world.accounts[user_id]


def _no_password_answer() -> types.account.Password:
    return types.account.Password(
        new_algo=srp.make_algo(secrets.token_bytes(8), secrets.token_bytes(16)),
        new_secure_algo=types.SecurePasswordKdfAlgoSHA512(salt=secrets.token_bytes(8)),
        secure_random=secrets.token_bytes(32), has_password=False)


async def get_password(api: ServerApi, req: functions.account.GetPasswordRequest,
                       ctx: CallContext) -> types.account.Password:
    """account.getPassword: the SRP parameters and a fresh challenge."""
    account = _password_account(api, ctx)
    if account.password is None:
        return _no_password_answer()
    salt1, salt2 = _salts(api.world.seed, account)
    challenge = srp.new_challenge(account.password, salt1, salt2)
    api.logins.challenges[ctx.auth_key_id] = challenge
    return types.account.Password(
        new_algo=srp.make_algo(salt1[:8], secrets.token_bytes(16)),
        new_secure_algo=types.SecurePasswordKdfAlgoSHA512(salt=secrets.token_bytes(8)),
        secure_random=secrets.token_bytes(32), has_password=True, current_algo=srp.make_algo(salt1, salt2),
        srp_B=challenge.B.to_bytes(256, "big"), srp_id=challenge.srp_id, hint=account.hint or None)


async def check_password(api: ServerApi, req: functions.auth.CheckPasswordRequest,
                         ctx: CallContext) -> types.auth.Authorization:
    """auth.checkPassword: verify the SRP proof, then sign in."""
    account = _password_account(api, ctx)
    challenge = api.logins.challenges.get(ctx.auth_key_id)
    check = req.password
    if not isinstance(check, types.InputCheckPasswordSRP) or challenge is None:
        raise RpcError(400, "SRP_PASSWORD_CHANGED")
    if check.srp_id != challenge.srp_id:
        raise RpcError(400, "SRP_ID_INVALID")
    if not srp.check(challenge, check.A, check.M1):
        raise RpcError(400, "PASSWORD_HASH_INVALID")
    return _authorize(api, ctx, account.user_id)


async def log_out(api: ServerApi, req: functions.auth.LogOutRequest, ctx: CallContext) -> types.auth.LoggedOut:
    """auth.logOut: the key is no longer signed in."""
    ctx.auth.unbind(ctx.auth_key_id)
    return types.auth.LoggedOut()


HANDLERS = {
    functions.auth.SendCodeRequest: send_code,
    functions.auth.SignInRequest: sign_in,
    functions.account.GetPasswordRequest: get_password,
    functions.auth.CheckPasswordRequest: check_password,
    functions.auth.LogOutRequest: log_out,
}
UNAUTHORISED_OK = {functions.auth.SendCodeRequest, functions.auth.SignInRequest, functions.account.GetPasswordRequest,
                   functions.auth.CheckPasswordRequest, functions.auth.LogOutRequest}
