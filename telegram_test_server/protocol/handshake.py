"""Server side of the MTProto auth-key exchange (req_pq_multi, req_DH_params, set_client_DH_params)."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from hashlib import sha1

import rsa.prime
from telethon import helpers
from telethon.crypto import AES, AuthKey
from telethon.crypto.rsa import get_byte_array
from telethon.extensions import BinaryReader
from telethon.tl.functions import (
    ReqDHParamsRequest,
    ReqPqMultiRequest,
    ReqPqRequest,
    SetClientDHParamsRequest,
)
from telethon.tl.tlobject import TLObject
from telethon.tl.types import (
    ClientDHInnerData,
    DhGenOk,
    PQInnerData,
    PQInnerDataDc,
    PQInnerDataTemp,
    PQInnerDataTempDc,
    ResPQ,
    ServerDHInnerData,
    ServerDHParamsOk,
)

from telegram_test_server.protocol import keys

# Telegram's published 2048-bit safe prime (core.telegram.org/mtproto/auth_key), with generator 3.
DH_PRIME = int(
    "C71CAEB9C6B1C9048E6C522F70F13F73980D40238E3E21C14934D037563D930F48198A0AA7C14058229493D22530F4DB"
    "FA336F6E0AC925139543AED44CCE7C3720FD51F69458705AC68CD4FE6B6B13ABDC9746512969328454F18FAF8C595F64"
    "2477FE96BB2A941D5BCD1D4AC8CC49880708FA9B378E3C4F3A9060BEE67CF9A4A4A695811051907E162753B56B0F6B41"
    "0DBA74D8A84B2A14B3144E0EF1284754FD17ED950D5965B4B9DD46582DB1178D169C6BC465B0D6FF9CA3928FEF5B9AE4"
    "E418FC15E83EBEA0F87FA9FF5EED70050DED2849F47BF959D956850CE929851F0D8115F635B105EE2E4E15D04B2454BF"
    "6F4FADF034B10403119CD8E3B92FCC5B",
    16,
)
DH_G = 3
_SAFETY = 2 ** (2048 - 64)
_PQ_TYPES = (PQInnerData, PQInnerDataDc, PQInnerDataTemp, PQInnerDataTempDc)


class HandshakeError(Exception):
    """The client broke the exchange (bad nonce, hash, fingerprint...); the connection is closed."""


def _random_int(nbytes: int) -> int:
    return int.from_bytes(os.urandom(nbytes), "big", signed=True)


def _read_hashed(plain: bytes) -> TLObject:
    """Parse `sha1(data) + data + padding` and check the hash over exactly the object's bytes."""
    reader = BinaryReader(plain[20:])
    obj = reader.tgread_object()
    if sha1(plain[20 : 20 + reader.tell_position()]).digest() != plain[:20]:
        raise HandshakeError("sha1 of inner data does not match")
    return obj


@dataclass
class _DhState:
    new_nonce: int
    a: int
    key: bytes
    iv: bytes


class Handshake:
    """One client's run through the exchange; feed it plain requests, get answers and finally a key."""

    def __init__(self, now: float | None = None) -> None:
        self._now = now
        self._nonce: int | None = None
        self._server_nonce = _random_int(16)
        self._p = self._q = 0
        self._dh: _DhState | None = None
        self.auth_key: AuthKey | None = None

    def handle(self, request: TLObject) -> TLObject:
        """Answer one step of the exchange; `auth_key` is set once dh_gen_ok is returned."""
        if isinstance(request, ReqPqMultiRequest | ReqPqRequest):
            return self._res_pq(request.nonce)
        if isinstance(request, ReqDHParamsRequest):
            return self._dh_params(request)
        if isinstance(request, SetClientDHParamsRequest):
            return self._set_client_dh(request)
        raise HandshakeError(f"unexpected plain message {type(request).__name__}")

    def _check_nonces(self, request: TLObject) -> None:
        if request.nonce != self._nonce or request.server_nonce != self._server_nonce:
            raise HandshakeError("nonce or server_nonce mismatch")

    def _res_pq(self, nonce: int) -> ResPQ:
        self._nonce = nonce
        self._p, self._q = sorted((rsa.prime.getprime(31), rsa.prime.getprime(31)))
        return ResPQ(
            nonce=nonce,
            server_nonce=self._server_nonce,
            pq=get_byte_array(self._p * self._q),
            server_public_key_fingerprints=[keys.fingerprint()],
        )

    def _dh_params(self, request: ReqDHParamsRequest) -> ServerDHParamsOk:
        self._check_nonces(request)
        if request.public_key_fingerprint != keys.fingerprint():
            raise HandshakeError("unknown RSA fingerprint")
        if request.p != get_byte_array(self._p) or request.q != get_byte_array(self._q):
            raise HandshakeError("wrong factorisation of pq")
        if len(request.encrypted_data) != 256:
            raise HandshakeError("encrypted_data must be 256 bytes")
        inner = _read_hashed(keys.decrypt_block(request.encrypted_data))
        if not isinstance(inner, _PQ_TYPES):
            raise HandshakeError(f"unexpected inner data {type(inner).__name__}")
        self._check_nonces(inner)
        if inner.pq != get_byte_array(self._p * self._q) or inner.p != request.p or inner.q != request.q:
            raise HandshakeError("inner pq/p/q mismatch")
        return self._server_dh_ok(inner.new_nonce)

    def _server_dh_ok(self, new_nonce: int) -> ServerDHParamsOk:
        a = int.from_bytes(os.urandom(256), "big")
        g_a = pow(DH_G, a, DH_PRIME)
        while not _SAFETY <= g_a <= DH_PRIME - _SAFETY:
            a = int.from_bytes(os.urandom(256), "big")
            g_a = pow(DH_G, a, DH_PRIME)
        key, iv = helpers.generate_key_data_from_nonce(self._server_nonce, new_nonce)
        self._dh = _DhState(new_nonce, a, key, iv)
        answer = bytes(ServerDHInnerData(
            nonce=self._nonce,
            server_nonce=self._server_nonce,
            g=DH_G,
            dh_prime=get_byte_array(DH_PRIME),
            g_a=get_byte_array(g_a),
            server_time=int(self._now if self._now is not None else time.time()),
        ))
        encrypted = AES.encrypt_ige(sha1(answer).digest() + answer, key, iv)
        return ServerDHParamsOk(nonce=self._nonce, server_nonce=self._server_nonce, encrypted_answer=encrypted)

    def _set_client_dh(self, request: SetClientDHParamsRequest) -> DhGenOk:
        self._check_nonces(request)
        if self._dh is None or len(request.encrypted_data) % 16:
            raise HandshakeError("set_client_DH_params out of order or misaligned")
        inner = _read_hashed(AES.decrypt_ige(request.encrypted_data, self._dh.key, self._dh.iv))
        if not isinstance(inner, ClientDHInnerData):
            raise HandshakeError(f"unexpected inner data {type(inner).__name__}")
        self._check_nonces(inner)
        g_b = int.from_bytes(inner.g_b, "big")
        if not (1 < g_b < DH_PRIME - 1 and _SAFETY <= g_b <= DH_PRIME - _SAFETY):
            raise HandshakeError("g_b out of range")
        # Same byte form as Telethon (variable length), so both sides derive the same key.
        self.auth_key = AuthKey(get_byte_array(pow(g_b, self._dh.a, DH_PRIME)))
        return DhGenOk(
            nonce=self._nonce,
            server_nonce=self._server_nonce,
            new_nonce_hash1=self.auth_key.calc_new_nonce_hash(self._dh.new_nonce, 1),
        )
