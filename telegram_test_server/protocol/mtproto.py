"""One client TCP connection: transport, handshake, encrypted layer, service messages, RPC dispatch."""
from __future__ import annotations

import asyncio
import collections
import datetime as dt
import logging
import os
import struct
import time
from dataclasses import dataclass, field
from typing import Any

from telethon.errors import TypeNotFoundError
from telethon.extensions import BinaryReader
from telethon.tl.core import GzipPacked, MessageContainer, RpcResult
from telethon.tl.functions import (
    DestroyAuthKeyRequest,
    DestroySessionRequest,
    GetFutureSaltsRequest,
    PingDelayDisconnectRequest,
    PingRequest,
)
from telethon.tl.tlobject import TLObject, TLRequest
from telethon.tl.types import (
    BadMsgNotification,
    BadServerSalt,
    DestroyAuthKeyOk,
    DestroySessionNone,
    DestroySessionOk,
    FutureSalt,
    FutureSalts,
    HttpWait,
    MsgResendReq,
    MsgsAck,
    MsgsStateInfo,
    MsgsStateReq,
    NewSessionCreated,
    Pong,
)
from telethon.tl.types import RpcError as TlRpcError

from telegram_test_server.protocol import envelope, transport
from telegram_test_server.protocol.auth_store import AuthKeyStore
from telegram_test_server.protocol.handshake import Handshake, HandshakeError
from telegram_test_server.protocol.request_log import RequestLog
from telegram_test_server.protocol.rpc import Api
from telegram_test_server.protocol.rpc_call import serve_rpc

log = logging.getLogger(__name__)

CONTAINER_LIMIT = 1 << 20  # bytes of payload packed into one outgoing container
_CONTAINER_ID = MessageContainer.CONSTRUCTOR_ID
_GZIP_ID = GzipPacked.CONSTRUCTOR_ID
_MSG_HEAD = struct.Struct("<qii")


@dataclass
class Core:
    """Everything connections share: the handlers, auth keys, request log, counters, server address."""

    api: Api
    store: AuthKeyStore
    requests: RequestLog
    info: dict[str, Any]
    gzip_threshold: int | None = None
    counters: collections.Counter[str] = field(default_factory=collections.Counter)
    sessions: dict[tuple[int, int], Session] = field(default_factory=dict)
    connections: set[Connection] = field(default_factory=set)
    last_connection_id: int = 0


class Session:
    """Server view of one client session id: outgoing seq_no and recently received msg ids."""

    def __init__(self, key_id: int, session_id: int) -> None:
        self.key_id = key_id
        self.session_id = session_id
        self._seq = 0
        self.seen: collections.deque[int] = collections.deque(maxlen=512)

    def next_seq(self, content_related: bool) -> int:
        if not content_related:
            return self._seq * 2
        self._seq += 1
        return self._seq * 2 - 1


@dataclass(slots=True)
class Outgoing:
    """A serialised server message waiting for the writer."""

    session: Session
    body: bytes
    content_related: bool
    response: bool


class Connection:
    """Serves one TCP connection until the client leaves, the server stops or a handler drops it."""

    def __init__(self, core: Core, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        core.last_connection_id += 1
        self.id = core.last_connection_id
        self.core = core
        self._reader, self._writer = reader, writer
        self._codec: transport.Codec | None = None
        self._handshake: Handshake | None = None
        self._clock = envelope.MsgIdClock()
        self._outbox: collections.deque[Outgoing] = collections.deque()
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.inflight: dict[int, asyncio.Task[Any]] = {}
        self.layer: int | None = None
        self.init: dict[str, Any] = {}
        self._ping_timer: asyncio.TimerHandle | None = None
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------------------

    async def run(self) -> None:
        """Read packets until EOF or error; always clean up."""
        self.core.connections.add(self)
        self.core.counters["connections"] += 1
        writer_task = asyncio.create_task(self._write_loop())
        try:
            self._codec = await transport.detect(self._reader)
            while not self._closed:
                packet = await self._codec.read_packet(self._reader)
                self._on_packet(packet)
        except (asyncio.IncompleteReadError, ConnectionError, transport.TransportError) as exc:
            log.debug("connection %d closed: %s", self.id, exc)
        except (HandshakeError, envelope.EnvelopeError) as exc:
            log.warning("connection %d: protocol error: %s", self.id, exc)
        finally:
            await self._cleanup(writer_task)

    async def _cleanup(self, writer_task: asyncio.Task[Any]) -> None:
        self.close()
        for task in [*self._tasks, writer_task]:
            task.cancel()
        await asyncio.gather(*self._tasks, writer_task, return_exceptions=True)
        self.core.connections.discard(self)

    def close(self, abort: bool = False) -> None:
        """Close the socket (abort: drop it at once, discarding unsent data)."""
        if self._closed:
            return
        self._closed = True
        if self._ping_timer is not None:
            self._ping_timer.cancel()
        if abort:
            self._writer.transport.abort()
        else:
            self._writer.close()

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        """Run a coroutine as a task owned (and cancelled on close) by this connection."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- incoming ----------------------------------------------------------------------------------

    def _on_packet(self, packet: bytes) -> None:
        if len(packet) < 8:
            raise envelope.EnvelopeError(f"short packet ({len(packet)} bytes)")
        key_id = struct.unpack_from("<Q", packet)[0]
        if key_id == 0:
            self._on_plain(packet)
            return
        key = self.core.store.get(key_id)
        if key is None:
            self.core.counters["auth_key_unknown"] += 1
            log.info("connection %d: unknown auth key %016x, answering -404", self.id, key_id)
            self._write_raw(transport.error_packet(404))
            self.close()
            return
        self._on_message(key_id, envelope.decrypt(key, packet))

    def _on_plain(self, packet: bytes) -> None:
        _, body = envelope.read_plain(packet)
        request = BinaryReader(body).tgread_object()
        if self._handshake is None or type(request).__name__.startswith("ReqPq"):
            self._handshake = Handshake()
        answer = self._handshake.handle(request)
        if self._handshake.auth_key is not None:
            self.core.store.add(self._handshake.auth_key)
            self.core.counters["handshakes"] += 1
            self._handshake = None
        self._write_raw(envelope.write_plain(self._clock.next(True), bytes(answer)))

    def _on_message(self, key_id: int, msg: envelope.Incoming) -> None:
        session = self.core.sessions.get((key_id, msg.session_id))
        server_salt = self.core.store.salt(key_id)
        reply_to = session or Session(key_id, msg.session_id)
        problem = envelope.client_msg_id_problem(msg.msg_id)
        if problem is not None:
            self.core.counters["bad_msg_notification"] += 1
            notice = BadMsgNotification(bad_msg_id=msg.msg_id, bad_msg_seqno=msg.seq_no, error_code=problem)
            self.send(reply_to, bytes(notice), content_related=False, response=True)
            return
        if msg.salt != server_salt:
            self.core.counters["bad_server_salt"] += 1
            bad = BadServerSalt(bad_msg_id=msg.msg_id, bad_msg_seqno=msg.seq_no, error_code=48,
                                new_server_salt=server_salt)
            self.send(reply_to, bytes(bad), content_related=False, response=True)
            return
        if session is None:
            session = self.core.sessions[(key_id, msg.session_id)] = reply_to
            self.core.counters["new_session_created"] += 1
            created = NewSessionCreated(first_msg_id=msg.msg_id, unique_id=_random_long(), server_salt=server_salt)
            self.send(session, bytes(created), content_related=True, response=False)
        self._dispatch(session, msg.msg_id, msg.body)

    def _dispatch(self, session: Session, msg_id: int, body: bytes) -> None:
        if msg_id in session.seen:
            log.debug("connection %d: duplicate msg %d ignored", self.id, msg_id)
            return
        session.seen.append(msg_id)
        constructor = struct.unpack_from("<I", body)[0]
        if constructor == _CONTAINER_ID:
            self.core.counters["containers_in"] += 1
            for inner_id, inner_body in _container_messages(body):
                self._dispatch(session, inner_id, inner_body)
            return
        if constructor == _GZIP_ID:
            self.core.counters["gzip_in"] += 1
            self._dispatch_object(session, msg_id, GzipPacked.read(BinaryReader(body)))
            return
        self._dispatch_object(session, msg_id, body)

    def _dispatch_object(self, session: Session, msg_id: int, body: bytes) -> None:
        try:
            obj = BinaryReader(body).tgread_object()
        except TypeNotFoundError as exc:
            self.core.counters["unknown_constructor"] += 1
            method = f"unknown#{exc.invalid_constructor_id:08x}"
            log.warning("connection %d: unknown constructor %s", self.id, method)
            self.core.requests.record(session.key_id, method, {}, error="INPUT_METHOD_INVALID")
            self.send_rpc_error(session, msg_id, 400, "INPUT_METHOD_INVALID")
            return
        except (BufferError, struct.error, ValueError, UnicodeDecodeError) as exc:
            log.warning("connection %d: unreadable request: %s", self.id, exc)
            self.send_rpc_error(session, msg_id, 400, "INPUT_REQUEST_INVALID")
            return
        try:
            if self._service(session, msg_id, obj):
                return
        except Exception:  # noqa: BLE001 - a service-message bug must not kill the connection
            self.core.counters["internal_errors"] += 1
            log.exception("connection %d: failed to answer %s", self.id, type(obj).__name__)
            self.send_rpc_error(session, msg_id, 500, "INTERNAL")
            return
        if isinstance(obj, TLRequest):
            self.inflight[msg_id] = task = self.spawn(serve_rpc(self, session, msg_id, obj))
            task.add_done_callback(lambda _t: self.inflight.pop(msg_id, None))
        else:
            log.warning("connection %d: ignoring non-request %s", self.id, type(obj).__name__)

    # -- service messages --------------------------------------------------------------------------

    def _service(self, session: Session, msg_id: int, obj: TLObject) -> bool:
        """Answer MTProto service messages; False when `obj` is an ordinary RPC."""
        if isinstance(obj, MsgsAck | HttpWait | MsgResendReq):
            return True
        if isinstance(obj, PingRequest | PingDelayDisconnectRequest):
            self.core.counters["pings"] += 1
            if isinstance(obj, PingDelayDisconnectRequest):
                self._arm_ping_timer(obj.disconnect_delay)
            self.send(session, bytes(Pong(msg_id=msg_id, ping_id=obj.ping_id)), True, True)
            return True
        answer = self._service_answer(session, msg_id, obj)
        if answer is None:
            return False
        self.send(session, bytes(answer), True, True)
        return True

    def _service_answer(self, session: Session, msg_id: int, obj: TLObject) -> TLObject | None:
        if isinstance(obj, MsgsStateReq):
            info = "".join(chr(4 if i in session.seen else 1) for i in obj.msg_ids)
            return MsgsStateInfo(req_msg_id=msg_id, info=info)
        if isinstance(obj, GetFutureSaltsRequest):
            salt, now = self.core.store.salt(session.key_id), int(time.time())
            count = max(1, min(obj.num, 64))
            salts = [FutureSalt(_dt(now + i * 3600), _dt(now + (i + 1) * 3600), salt) for i in range(count)]
            return FutureSalts(req_msg_id=msg_id, now=now, salts=salts)
        if isinstance(obj, DestroySessionRequest):
            known = self.core.sessions.pop((session.key_id, obj.session_id), None)
            return (DestroySessionOk if known else DestroySessionNone)(session_id=obj.session_id)
        if isinstance(obj, DestroyAuthKeyRequest):
            self.core.store.forget(session.key_id)
            return DestroyAuthKeyOk()
        return None

    def _arm_ping_timer(self, delay: int) -> None:
        if self._ping_timer is not None:
            self._ping_timer.cancel()
        self._ping_timer = asyncio.get_running_loop().call_later(max(delay, 1), self.close)

    # -- outgoing ----------------------------------------------------------------------------------

    def send(self, session: Session, body: bytes, content_related: bool, response: bool) -> None:
        """Queue one serialised message; the writer packs what is queued together into a container."""
        if self._closed:
            return
        self._outbox.append(Outgoing(session, body, content_related, response))
        self._wake.set()

    def send_rpc_error(self, session: Session, msg_id: int, code: int, message: str) -> None:
        """Queue rpc_result(rpc_error) for `msg_id`."""
        self.send(session, _rpc_result(msg_id, bytes(TlRpcError(code, message))), True, True)

    def send_rpc_result(self, session: Session, msg_id: int, body: bytes) -> None:
        """Queue rpc_result for `msg_id` with an already serialised (maybe gzipped) body."""
        self.send(session, _rpc_result(msg_id, body), True, True)

    def _write_raw(self, payload: bytes) -> None:
        if self._codec is not None and not self._writer.is_closing():
            self._writer.write(self._codec.encode(payload))

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._outbox and not self._closed:
                self._write_batch()
            await self._writer.drain()

    def _write_batch(self) -> None:
        first = self._outbox.popleft()
        batch, size = [first], len(first.body)
        while self._outbox and self._outbox[0].session is first.session:
            size += len(self._outbox[0].body) + 12
            if size > CONTAINER_LIMIT or len(batch) >= 100:
                break
            batch.append(self._outbox.popleft())
        session = first.session
        if len(batch) == 1:
            msg_id, seq_no, body = self._clock.next(first.response), session.next_seq(first.content_related), first.body
        else:
            self.core.counters["containers_out"] += 1
            body = self._container(session, batch)
            msg_id, seq_no = self._clock.next(False), session.next_seq(False)
        key = self.core.store.get(session.key_id)
        if key is None:  # destroyed meanwhile
            return
        salt = self.core.store.salt(session.key_id)
        self._write_raw(envelope.encrypt(key, salt, session.session_id, msg_id, seq_no, body))

    def _container(self, session: Session, batch: list[Outgoing]) -> bytes:
        parts = [struct.pack("<Ii", _CONTAINER_ID, len(batch))]
        for item in batch:
            msg_id = self._clock.next(item.response)
            parts.append(_MSG_HEAD.pack(msg_id, session.next_seq(item.content_related), len(item.body)))
            parts.append(item.body)
        return b"".join(parts)


def _container_messages(body: bytes) -> list[tuple[int, bytes]]:
    """Inner (msg_id, body) pairs of a msg_container, read with Telethon's BinaryReader."""
    reader = BinaryReader(body)
    reader.read_int(signed=False)
    out = []
    for _ in range(reader.read_int()):
        msg_id, _seq, length = reader.read_long(), reader.read_int(), reader.read_int()
        out.append((msg_id, reader.read(length)))
    return out


def _rpc_result(req_msg_id: int, body: bytes) -> bytes:
    return struct.pack("<Iq", RpcResult.CONSTRUCTOR_ID, req_msg_id) + body


def _random_long() -> int:
    return struct.unpack("<q", os.urandom(8))[0]


def _dt(ts: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC)
