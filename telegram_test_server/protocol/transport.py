"""MTProto TCP transports (full, intermediate, padded intermediate, abridged, and any of the last three inside
obfuscated2, which MTProxy servers speak to Telegram), detected by the first bytes."""
from __future__ import annotations

import asyncio
import os
import struct
from zlib import crc32

from telethon.crypto import AESModeCTR

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

    def __init__(self, first_bytes: bytes) -> None:
        self._pending = first_bytes
        self._recv_seq = 0
        self._send_seq = 0

    async def read_packet(self, reader: asyncio.StreamReader) -> bytes:
        head = self._pending + await reader.readexactly(8 - len(self._pending))  # the first 8 come from detect
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


OBFUSCATED_HEADER = 64
TAGGED_CODECS: dict[bytes, type[Codec]] = {
    b"\xef\xef\xef\xef": AbridgedCodec, b"\xee\xee\xee\xee": IntermediateCodec,
    b"\xdd\xdd\xdd\xdd": PaddedIntermediateCodec,
}


class _DecryptingReader:
    """`readexactly` of a reader, decrypted through one continuous AES-CTR stream."""

    def __init__(self, reader: asyncio.StreamReader, decryptor: AESModeCTR) -> None:
        self._reader, self._decryptor = reader, decryptor

    async def readexactly(self, n: int) -> bytes:
        return self._decryptor.encrypt(await self._reader.readexactly(n))


class ObfuscatedCodec(Codec):
    """obfuscated2: a 64-byte random header gives AES-256-CTR keys for each direction; the stream inside is
    abridged, intermediate or padded intermediate (the protocol tag at header bytes 56..60)."""

    def __init__(self, header: bytes) -> None:
        reverse = header[8:56][::-1]
        self._decrypt = AESModeCTR(header[8:40], header[40:56])
        self._encrypt = AESModeCTR(reverse[:32], reverse[32:48])
        plain = self._decrypt.encrypt(header)
        inner = TAGGED_CODECS.get(plain[56:60])
        if inner is None:
            raise TransportError("unknown transport (not obfuscated2 either)")
        self.inner = inner()
        self.dc_id = int.from_bytes(plain[60:62], "little", signed=True)
        self.name = f"obfuscated2+{self.inner.name}"

    async def read_packet(self, reader: asyncio.StreamReader) -> bytes:
        return await self.inner.read_packet(_DecryptingReader(reader, self._decrypt))  # type: ignore[arg-type]

    def encode(self, data: bytes) -> bytes:
        return self._encrypt.encrypt(self.inner.encode(data))


async def detect(reader: asyncio.StreamReader) -> Codec:
    """Pick the codec from the first bytes the client sends, as Telegram's servers do: a tag, else the full
    transport (whose first packet has seq 0 in bytes 4..8), else an obfuscated2 header."""
    first = await reader.readexactly(1)
    if first == b"\xef":
        return AbridgedCodec()
    head = first + await reader.readexactly(3)
    if head == b"\xee\xee\xee\xee":
        return IntermediateCodec()
    if head == b"\xdd\xdd\xdd\xdd":
        return PaddedIntermediateCodec()
    head += await reader.readexactly(4)
    if head[4:8] == b"\0\0\0\0":
        return FullCodec(head)
    return ObfuscatedCodec(head + await reader.readexactly(OBFUSCATED_HEADER - len(head)))


def error_packet(code: int) -> bytes:
    """The 4-byte transport error Telegram sends instead of a message (e.g. -404: unknown auth key)."""
    return struct.pack("<i", -abs(code))
