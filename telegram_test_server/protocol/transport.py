"""MTProto TCP transports (full, intermediate, padded intermediate, abridged), detected by the first bytes."""
from __future__ import annotations

import asyncio
import os
import struct
from zlib import crc32

MAX_PACKET = 16 * 1024 * 1024  # anything larger is a broken or hostile client


class TransportError(Exception):
    """The byte stream does not follow the transport's framing; the connection must close."""


class Codec:
    """Reads packets from, and frames packets for, one TCP stream."""

    name = "?"

    async def read_packet(self, reader: asyncio.StreamReader) -> bytes:
        raise NotImplementedError

    def encode(self, data: bytes) -> bytes:
        raise NotImplementedError


class FullCodec(Codec):
    """TCP full: length(4) + seq(4) + payload + crc32(4); Telethon's default."""

    name = "full"

    def __init__(self, first_four: bytes) -> None:
        self._pending = first_four
        self._recv_seq = 0
        self._send_seq = 0

    async def read_packet(self, reader: asyncio.StreamReader) -> bytes:
        head = self._pending + await reader.readexactly(8 - len(self._pending))
        self._pending = b""
        length, seq = struct.unpack("<ii", head)
        if length < 12 or length > MAX_PACKET:
            raise TransportError(f"bad full-transport length {length}")
        rest = await reader.readexactly(length - 8)
        body, checksum = rest[:-4], struct.unpack("<I", rest[-4:])[0]
        if crc32(head + body) != checksum:
            raise TransportError("bad crc32")
        if seq != self._recv_seq:
            raise TransportError(f"bad transport seq {seq}, expected {self._recv_seq}")
        self._recv_seq += 1
        return body

    def encode(self, data: bytes) -> bytes:
        head = struct.pack("<ii", len(data) + 12, self._send_seq)
        self._send_seq += 1
        return b"".join((head, data, struct.pack("<I", crc32(data, crc32(head)))))


class IntermediateCodec(Codec):
    """Intermediate: tag 0xeeeeeeee, then length(4) + payload."""

    name = "intermediate"

    async def read_packet(self, reader: asyncio.StreamReader) -> bytes:
        length = struct.unpack("<i", await reader.readexactly(4))[0]
        if length < 4 or length > MAX_PACKET:
            raise TransportError(f"bad intermediate length {length}")
        return self._strip(await reader.readexactly(length))

    def _strip(self, packet: bytes) -> bytes:
        return packet

    def encode(self, data: bytes) -> bytes:
        return struct.pack("<i", len(data)) + data


class PaddedIntermediateCodec(IntermediateCodec):
    """Padded intermediate: tag 0xdddddddd, 0..3 random bytes after each payload."""

    name = "padded"

    def _strip(self, packet: bytes) -> bytes:
        extra = len(packet) % 4
        return packet[:-extra] if extra else packet

    def encode(self, data: bytes) -> bytes:
        return super().encode(data + os.urandom(os.urandom(1)[0] % 4))


class AbridgedCodec(Codec):
    """Abridged: tag 0xef, then length/4 in 1 byte (or 0x7f + 3 bytes) + payload."""

    name = "abridged"

    async def read_packet(self, reader: asyncio.StreamReader) -> bytes:
        first = (await reader.readexactly(1))[0] & 0x7F  # the high bit asks for a quick ack: not sent
        words = int.from_bytes(await reader.readexactly(3), "little") if first == 0x7F else first
        if words * 4 > MAX_PACKET:
            raise TransportError("abridged packet too large")
        return await reader.readexactly(words * 4)

    def encode(self, data: bytes) -> bytes:
        words = len(data) // 4
        if words < 0x7F:
            return bytes((words,)) + data
        return b"\x7f" + words.to_bytes(3, "little") + data


async def detect(reader: asyncio.StreamReader) -> Codec:
    """Pick the codec from the first bytes the client sends, as Telegram's servers do."""
    first = await reader.readexactly(1)
    if first == b"\xef":
        return AbridgedCodec()
    head = first + await reader.readexactly(3)
    if head == b"\xee\xee\xee\xee":
        return IntermediateCodec()
    if head == b"\xdd\xdd\xdd\xdd":
        return PaddedIntermediateCodec()
    return FullCodec(head)


def error_packet(code: int) -> bytes:
    """The 4-byte transport error Telegram sends instead of a message (e.g. -404: unknown auth key)."""
    return struct.pack("<i", -abs(code))
