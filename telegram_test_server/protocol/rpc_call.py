"""Serve one RPC: unwrap invokeWithLayer & co, call the handlers, answer rpc_result/rpc_error, log the call."""
from __future__ import annotations

import asyncio
import gzip
import inspect
import logging
import struct
from typing import TYPE_CHECKING, Any

from telethon.tl.core import GzipPacked
from telethon.tl.functions import (
    InitConnectionRequest,
    InvokeAfterMsgRequest,
    InvokeAfterMsgsRequest,
    InvokeWithLayerRequest,
    InvokeWithoutUpdatesRequest,
    InvokeWithTakeoutRequest,
)
from telethon.tl.tlobject import TLObject, TLRequest

from telegram_test_server.protocol.request_log import method_name, params_of
from telegram_test_server.protocol.rpc import CallContext, DropConnection, RpcError

if TYPE_CHECKING:
    from telegram_test_server.protocol.mtproto import Connection, Session

log = logging.getLogger(__name__)

_VECTOR = struct.pack("<I", 0x1CB5C415)
_BOOL = {True: struct.pack("<I", 0x997275B5), False: struct.pack("<I", 0xBC799737)}
_UPLOAD_FILE = 0x096A18D5  # upload.file: media bytes do not compress
_INIT_FIELDS = ("device_model", "system_version", "app_version", "system_lang_code", "lang_pack", "lang_code")


def unwrap(request: TLRequest) -> tuple[TLRequest, dict[str, Any]]:
    """Strip invokeWithLayer, initConnection, invokeWithoutUpdates, invokeAfterMsg(s), invokeWithTakeout; return
    (inner, what they said)."""
    info: dict[str, Any] = {"after": []}
    while True:
        if isinstance(request, InvokeWithLayerRequest):
            info["layer"] = request.layer
        elif isinstance(request, InitConnectionRequest):
            info["init"] = {k: getattr(request, k) for k in _INIT_FIELDS}
        elif isinstance(request, InvokeWithoutUpdatesRequest):
            info["no_updates"] = True
        elif isinstance(request, InvokeAfterMsgRequest):
            info["after"].append(request.msg_id)
        elif isinstance(request, InvokeAfterMsgsRequest):
            info["after"].extend(request.msg_ids)
        elif isinstance(request, InvokeWithTakeoutRequest):
            info["takeout_id"] = request.takeout_id
        else:
            return request, info
        request = request.query


def result_bytes(result: Any) -> bytes:
    """Serialise a handler's answer: a TLObject, a list (Vector), a bool, or bytes already serialised."""
    if isinstance(result, bytes | bytearray | memoryview):
        return bytes(result)
    if isinstance(result, bool):
        return _BOOL[result]
    if isinstance(result, TLObject):
        return bytes(result)
    if isinstance(result, list | tuple):
        return b"".join([_VECTOR, struct.pack("<i", len(result)), *map(result_bytes, result)])
    raise TypeError(f"handler returned {type(result).__name__}, not a TL object")


def maybe_gzip(body: bytes, threshold: int | None) -> bytes:
    """gzip_packed the answer when it is at least `threshold` bytes, compressible, and not upload.file."""
    if threshold is None or len(body) < threshold or struct.unpack_from("<I", body)[0] == _UPLOAD_FILE:
        return body
    packed = struct.pack("<I", GzipPacked.CONSTRUCTOR_ID) + TLObject.serialize_bytes(gzip.compress(body, 1))
    return packed if len(packed) < len(body) else body


async def _wait_for_earlier(conn: Connection, msg_ids: list[int]) -> None:
    """invokeAfterMsg(s): wait until those requests of this connection have been answered."""
    me = asyncio.current_task()
    tasks = [t for i in msg_ids if (t := conn.inflight.get(i)) is not None and t is not me]
    if tasks:
        await asyncio.wait(tasks)


async def serve_rpc(conn: Connection, session: Session, msg_id: int, request: TLRequest) -> None:
    """Run one request through the handlers and queue its answer on the connection."""
    core = conn.core
    inner, info = unwrap(request)
    conn.layer = info.get("layer", conn.layer)
    conn.init = info.get("init", conn.init)
    await _wait_for_earlier(conn, info["after"])
    ctx = CallContext(auth_key_id=session.key_id, session_id=session.session_id, connection_id=conn.id,
                      auth=core.store, layer=conn.layer,
                      extra={"server": core.info, "init": conn.init, "msg_id": msg_id,
                             "takeout_id": info.get("takeout_id")})
    entry = core.requests.start(session.key_id, method_name(inner), _safe_params(inner))
    if "takeout_id" in info:
        entry["takeout_id"] = info["takeout_id"]  # the call came wrapped in invokeWithTakeout
    try:
        result = core.api.handle(inner, ctx)
        body = result_bytes(await result if inspect.isawaitable(result) else result)
    except RpcError as exc:
        core.requests.finish(entry, error=exc.message)
        conn.send_rpc_error(session, msg_id, exc.code, exc.message)
    except DropConnection:
        core.counters["dropped"] += 1
        core.requests.finish(entry, error="DROP_CONNECTION")
        conn.close(abort=True)
    except asyncio.CancelledError:
        core.requests.finish(entry, error="NO_ANSWER")
        raise
    except Exception:
        core.counters["internal_errors"] += 1
        log.exception("handler failed for %s", entry["method"])
        core.requests.finish(entry, error="INTERNAL")
        conn.send_rpc_error(session, msg_id, 500, "INTERNAL")
    else:
        packed = maybe_gzip(body, core.gzip_threshold)
        if packed is not body:
            core.counters["gzip_out"] += 1
        core.requests.finish(entry, result_bytes=len(body))
        conn.send_rpc_result(session, msg_id, packed)


def _safe_params(request: TLRequest) -> dict[str, Any]:
    try:
        return params_of(request)
    except Exception as exc:  # noqa: BLE001 - logging must never break a call
        return {"unloggable": type(exc).__name__}
