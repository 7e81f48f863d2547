"""MTProto 2.0 envelopes: encrypt server messages, decrypt client messages, server msg ids, plain messages."""
from __future__ import annotations

import os
import struct
import time
from dataclasses import dataclass
from hashlib import sha256

from telethon.crypto import AES, AuthKey
from telethon.network.mtprotostate import MTProtoState

_HEADER = struct.Struct("<qqqii")  # salt, session_id, msg_id, seq_no, length
_PLAIN = struct.Struct("<qqi")  # auth_key_id (0), msg_id, length


class EnvelopeError(Exception):
    """A client packet that cannot be decrypted or is malformed (wrong msg_key, bad length, bad padding)."""


@dataclass(frozen=True, slots=True)
class Incoming:
    """One decrypted client message."""

    salt: int
    session_id: int
    msg_id: int
    seq_no: int
    body: bytes


def decrypt(auth_key: AuthKey, packet: bytes) -> Incoming:
    """Decrypt a client packet (`key_id + msg_key + AES-IGE data`) and check msg_key and padding (12..1024)."""
    if len(packet) < 24 + 48 or (len(packet) - 24) % 16:
        raise EnvelopeError("encrypted packet has a bad size")
    msg_key = packet[8:24]
    aes_key, aes_iv = MTProtoState._calc_key(auth_key.key, msg_key, True)
    plain = AES.decrypt_ige(packet[24:], aes_key, aes_iv)
    if sha256(auth_key.key[88:120] + plain).digest()[8:24] != msg_key:
        raise EnvelopeError("msg_key mismatch")
    salt, session_id, msg_id, seq_no, length = _HEADER.unpack_from(plain)
    padding = len(plain) - 32 - length
    if length < 4 or length % 4 or not 12 <= padding <= 1024:
        raise EnvelopeError(f"bad message length {length} / padding {padding}")
    return Incoming(salt, session_id, msg_id, seq_no, plain[32 : 32 + length])


def encrypt(auth_key: AuthKey, salt: int, session_id: int, msg_id: int, seq_no: int, body: bytes) -> bytes:
    """Encrypt one server message (x = 8 key offsets, random padding of 12..27 bytes)."""
    head = _HEADER.pack(salt, session_id, msg_id, seq_no, len(body))
    plain = b"".join((head, body, os.urandom(-(len(head) + len(body) + 12) % 16 + 12)))
    msg_key = sha256(auth_key.key[96:128] + plain).digest()[8:24]
    aes_key, aes_iv = MTProtoState._calc_key(auth_key.key, msg_key, False)
    return b"".join((struct.pack("<Q", auth_key.key_id), msg_key, AES.encrypt_ige(plain, aes_key, aes_iv)))


def read_plain(packet: bytes) -> tuple[int, bytes]:
    """Split an unencrypted message (auth_key_id 0) into (msg_id, body)."""
    if len(packet) < _PLAIN.size:
        raise EnvelopeError("plain packet too short")
    _, msg_id, length = _PLAIN.unpack_from(packet)
    if length < 4 or length > len(packet) - _PLAIN.size:
        raise EnvelopeError("plain packet has a bad length")
    return msg_id, packet[_PLAIN.size : _PLAIN.size + length]


def write_plain(msg_id: int, body: bytes) -> bytes:
    """An unencrypted server message (handshake answers)."""
    return _PLAIN.pack(0, msg_id, len(body)) + body


class MsgIdClock:
    """Monotonic server msg ids: unix time << 32, ≡1 mod 4 for answers, ≡3 mod 4 for other messages."""

    def __init__(self) -> None:
        self._last = 0

    def next(self, response: bool) -> int:
        now = time.time()
        base = (int(now) << 32) | (int((now % 1) * (1 << 32)) & ~3)
        base = max(base, (self._last & ~3) + 4)
        self._last = base | (1 if response else 3)
        return self._last


def client_msg_id_problem(msg_id: int, now: float | None = None) -> int | None:
    """The bad_msg_notification code for a client msg id (16 too old, 17 too new, 18 not ≡0 mod 4), or None."""
    if msg_id % 4:
        return 18
    delta = (time.time() if now is None else now) - (msg_id >> 32)
    if delta > 300:
        return 16
    if delta < -30:
        return 17
    return None
