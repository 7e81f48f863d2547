"""Transport framing and detection, MTProto envelopes and msg ids (no network)."""
from __future__ import annotations

import asyncio
import os
import struct

import pytest
from telethon.crypto import AuthKey
from telethon.network.connection.tcpabridged import AbridgedPacketCodec
from telethon.network.connection.tcpintermediate import IntermediatePacketCodec
from telethon.network.connection.tcpobfuscated import ObfuscatedIO
from telethon.network.mtprotostate import MTProtoState
from telethon.tl.types import Pong

from telegram_test_server.protocol import envelope, transport


def _read_back(raw: bytes, count: int) -> tuple[str, list[bytes]]:
    async def main():
        reader = asyncio.StreamReader()
        reader.feed_data(raw)
        reader.feed_eof()
        codec = await transport.detect(reader)
        return codec.name, [await codec.read_packet(reader) for _ in range(count)]

    return asyncio.run(main())


@pytest.mark.parametrize(("tag", "codec_cls"), [
    (b"", transport.FullCodec),
    (b"\xee\xee\xee\xee", transport.IntermediateCodec),
    (b"\xdd\xdd\xdd\xdd", transport.PaddedIntermediateCodec),
    (b"\xef", transport.AbridgedCodec),
])
def test_each_transport_is_detected_and_round_trips(tag, codec_cls):
    packets = [os.urandom(40), os.urandom(4 * 200), os.urandom(1 << 16)]
    encoder = codec_cls(b"") if codec_cls is transport.FullCodec else codec_cls()
    raw = tag + b"".join(encoder.encode(p) for p in packets)
    name, read = _read_back(raw, len(packets))
    assert name == encoder.name and read == packets


def test_full_transport_rejects_a_bad_checksum():
    raw = bytearray(transport.FullCodec(b"").encode(os.urandom(40)))
    raw[-1] ^= 1
    with pytest.raises(transport.TransportError, match="crc"):
        _read_back(bytes(raw), 1)


def test_envelope_matches_telethons_own_state():
    key = AuthKey(os.urandom(256))
    client = MTProtoState(key, loggers=_Loggers())
    client.salt = 77
    body = bytes(Pong(msg_id=1, ping_id=2))
    packet = client.encrypt_message_data(struct.pack("<qii", 4 << 32, 1, len(body)) + body)
    incoming = envelope.decrypt(key, packet)
    assert (incoming.salt, incoming.session_id, incoming.msg_id, incoming.body) == (77, client.id, 4 << 32, body)
    msg_id = envelope.MsgIdClock().next(response=True)
    message = client.decrypt_message_data(envelope.encrypt(key, 77, client.id, msg_id, 1, body))
    assert message.msg_id == msg_id and message.obj.ping_id == 2


def test_envelope_rejects_a_tampered_packet():
    key = AuthKey(os.urandom(256))
    client = MTProtoState(key, loggers=_Loggers())
    packet = bytearray(client.encrypt_message_data(b"\0" * 16 + b"\x04\0\0\0" + b"abcd"))
    packet[30] ^= 1
    with pytest.raises(envelope.EnvelopeError, match="msg_key"):
        envelope.decrypt(key, bytes(packet))


def test_server_msg_ids_are_odd_increasing_and_typed():
    clock = envelope.MsgIdClock()
    ids = [clock.next(response=i % 2 == 0) for i in range(1000)]
    assert ids == sorted(set(ids))
    assert all(i % 4 == (1 if n % 2 == 0 else 3) for n, i in enumerate(ids))


def test_client_msg_id_checks():
    now = 1_700_000_000.0
    good = int(now) << 32
    assert envelope.client_msg_id_problem(good, now) is None
    assert envelope.client_msg_id_problem(good + 1, now) == 18
    assert envelope.client_msg_id_problem((int(now) - 301) << 32, now) == 16
    assert envelope.client_msg_id_problem((int(now) + 31) << 32, now) == 17


class _Loggers(dict):
    def __missing__(self, key):
        import logging

        return logging.getLogger(key)


@pytest.mark.parametrize(("codec", "inner"), [
    (IntermediatePacketCodec, transport.IntermediateCodec), (AbridgedPacketCodec, transport.AbridgedCodec),
])
def test_obfuscated2_is_detected_and_round_trips_both_ways(codec, inner):
    """A header made by Telethon's own obfuscated2 code; packets both ways through the two AES-CTR streams."""
    header, encryptor, decryptor = ObfuscatedIO.init_header(codec)
    packets = [os.urandom(40), os.urandom(4 * 300)]
    raw = bytes(header) + encryptor.encrypt(b"".join(inner().encode(p) for p in packets))

    async def main():
        reader = asyncio.StreamReader()
        reader.feed_data(raw)
        reader.feed_eof()
        server = await transport.detect(reader)
        return server, [await server.read_packet(reader) for _ in packets]

    server, read = asyncio.run(main())
    assert server.name == f"obfuscated2+{inner().name}" and read == packets
    answer = os.urandom(64)
    assert decryptor.encrypt(server.encode(answer)) == inner().encode(answer)


def test_an_unknown_64_byte_header_is_refused():
    header = b"\x01\x02\x03\x04\x05\x06\x07\x08" + bytes(56)
    with pytest.raises(transport.TransportError, match="unknown transport"):
        _read_back(header, 1)
