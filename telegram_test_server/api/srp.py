"""Server side of Telegram's SRP 2FA check (the counterpart of telethon/password.py)."""
from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from functools import lru_cache

from telethon.password import compute_hash, is_good_mod_exp_first
from telethon.tl import types

# Telegram's 2048-bit safe prime (the one Telethon accepts without factorising) and g = 3.
PRIME_HEX = (
    "C71CAEB9C6B1C9048E6C522F70F13F73980D40238E3E21C14934D037563D930F48198A0AA7C14058229493D22530F4DB"
    "FA336F6E0AC925139543AED44CCE7C3720FD51F69458705AC68CD4FE6B6B13ABDC9746512969328454F18FAF8C595F64"
    "2477FE96BB2A941D5BCD1D4AC8CC49880708FA9B378E3C4F3A9060BEE67CF9A4A4A695811051907E162753B56B0F6B41"
    "0DBA74D8A84B2A14B3144E0EF1284754FD17ED950D5965B4B9DD46582DB1178D169C6BC465B0D6FF9CA3928FEF5B9AE4"
    "E418FC15E83EBEA0F87FA9FF5EED70050DED2849F47BF959D956850CE929851F0D8115F635B105EE2E4E15D04B2454BF"
    "6F4FADF034B10403119CD8E3B92FCC5B"
)
P_BYTES = bytes.fromhex(PRIME_HEX)
P = int.from_bytes(P_BYTES, "big")
G = 3


def _h(*parts: bytes) -> bytes:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return digest.digest()


def _pad(number: int) -> bytes:
    return number.to_bytes(256, "big")


def make_algo(salt1: bytes, salt2: bytes) -> types.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow:
    """The KDF algorithm object for given salts."""
    return types.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow(
        salt1=salt1, salt2=salt2, g=G, p=P_BYTES)


@lru_cache(maxsize=32)
def verifier(password: str, salt1: bytes, salt2: bytes) -> int:
    """v = g^x mod p, x = the client's password hash (PBKDF2, so cached)."""
    x = int.from_bytes(compute_hash(make_algo(salt1, salt2), password), "big")
    return pow(G, x, P)


def _k() -> int:
    return int.from_bytes(_h(P_BYTES, _pad(G)), "big")


@dataclass
class Challenge:
    """One account.getPassword answer's secret side (b) and public side (B)."""

    srp_id: int
    b: int
    B: int
    v: int
    salt1: bytes
    salt2: bytes


def new_challenge(password: str, salt1: bytes, salt2: bytes) -> Challenge:
    """Pick b with a well-formed g^b and B = k*v + g^b mod p."""
    v = verifier(password, salt1, salt2)
    while True:
        b = int.from_bytes(os.urandom(256), "big")
        g_b = pow(G, b, P)
        B = (_k() * v + g_b) % P
        if is_good_mod_exp_first(g_b, P) and is_good_mod_exp_first(B, P):
            return Challenge(srp_id=secrets.randbits(63), b=b, B=B, v=v, salt1=salt1, salt2=salt2)


def check(challenge: Challenge, A_bytes: bytes, M1: bytes) -> bool:
    """Verify the client's proof M1 for its public A."""
    A = int.from_bytes(A_bytes, "big")
    if not 0 < A < P or A % P == 0:
        return False
    B_bytes = _pad(challenge.B)
    u = int.from_bytes(_h(_pad(A), B_bytes), "big")
    S = pow(A * pow(challenge.v, u, P) % P, challenge.b, P)
    K = _h(_pad(S))
    h_p, h_g = _h(P_BYTES), _h(_pad(G))
    expected = _h(bytes(a ^ b for a, b in zip(h_p, h_g, strict=True)), _h(challenge.salt1), _h(challenge.salt2),
                  _pad(A), B_bytes, K)
    return secrets.compare_digest(expected, M1)
