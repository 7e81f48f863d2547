"""MediaDownloader with a scripted stand-in client (no network): events, back-off, deadlines,
cancellation, FloodWait and dedup. Time is fake: `clock`/`sleep` are injected."""
from __future__ import annotations

import asyncio
import hashlib
import heapq
import itertools
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from telethon import errors as tl_errors
from telethon.tl import types

from errors import RateLimitError
from tgexport.client.flood import FloodController
from tgexport.config.modes import MODES, PAUSE_SCALE_ENV
from tgexport.media import MediaDownloader
from tgexport.store.log import ExportLog

DATE = datetime(2024, 1, 1, tzinfo=UTC)
PART = 4096


class FakeTime:
    """Virtual time: `sleep` parks until a driver, run when all ready work is done, jumps the clock."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._waiters: list[tuple[float, int, asyncio.Future]] = []
        self._seq = itertools.count()
        self._driver: asyncio.Task | None = None

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (self.now + seconds, next(self._seq), future))
        if self._driver is None or self._driver.done():
            self._driver = asyncio.ensure_future(self._drive())
        await future

    async def _drive(self) -> None:
        while self._waiters:
            for _ in range(50):  # let every ready task run before time moves
                await asyncio.sleep(0)
            wake, _, future = heapq.heappop(self._waiters)
            if future.done():
                continue
            self.now = max(self.now, wake)
            future.set_result(None)

    def backoffs(self) -> list[float]:
        return [s for s in self.sleeps if s < 50]  # watchdog sleeps are the (large) stall/deadline waits


def doc_message(mid: int, data: bytes, name: str | None = "f.bin", mime: str = "application/zip",
                file_id: int | None = None):
    attrs = [types.DocumentAttributeFilename(file_name=name)] if name else []
    doc = types.Document(id=mid if file_id is None else file_id, access_hash=1, file_reference=b"r", date=DATE, mime_type=mime,
                         size=len(data), dc_id=2, attributes=attrs)
    return types.Message(id=mid, peer_id=types.PeerChannel(1), date=DATE, message="",
                         media=types.MessageMediaDocument(document=doc))


class ScriptedClient:
    """Answers upload.getFile per document: the first call of an attempt may raise a scripted
    exception; "stall" hangs every part after the first, "slow" makes each part take 50 s."""

    def __init__(self, files: dict[int, bytes], script: dict[int, list] | None = None,
                 time: FakeTime | None = None) -> None:
        self.files, self.script, self.time = files, script or {}, time
        self.active: dict[int, int] = {}
        self.max_active = 0  # files with a part in flight at once
        self.calls: list[tuple[int, int, int]] = []
        self.entered = asyncio.Event()

    async def __call__(self, request):
        fid = request.location.id
        self.calls.append((fid, request.offset, request.limit))
        self.active[fid] = self.active.get(fid, 0) + 1
        self.max_active = max(self.max_active, sum(1 for n in self.active.values() if n))
        self.entered.set()
        try:
            steps = self.script.get(fid, [])
            action = steps[0] if steps else "ok"
            if isinstance(action, BaseException):
                steps.pop(0)
                raise action
            if action == "stall" and request.offset > 0:
                await asyncio.Event().wait()
            if action == "slow" and self.time is not None:
                await self.time.sleep(50.0)
            await asyncio.sleep(0)
            data = self.files[fid][request.offset:request.offset + request.limit]
            return types.upload.File(type=types.storage.FilePartial(), mtime=DATE, bytes=data)
        finally:
            self.active[fid] -= 1

    async def get_messages(self, entity, ids):
        raise AssertionError("not used here")


def events(export_dir: Path) -> list[dict]:
    lines = (export_dir / "logs" / "run.log").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def named(evts: list[dict], name: str) -> list[dict]:
    return [e["data"] for e in evts if e["event"] == name]


def make(tmp_path: Path, client, fake: FakeTime, mode: str = "normal", **kw) -> MediaDownloader:
    export = tmp_path / "export"
    log = ExportLog(export, "abcd1234")
    flood = FloodController(extra=MODES[mode].flood_extra, max_wait=kw.pop("max_wait", 60.0), log=log,
                            sleep=fake.sleep)
    interval = kw.pop("interval", 10**6)  # no progress ticks unless a test asks for them
    dl = MediaDownloader(client=client, entity=None, export_dir=export, temp_dir=tmp_path / "tmp",
                         preset=MODES[mode], log=log, flood=flood, sha_index=kw.pop("sha_index", {}),
                         max_media_size_mb=kw.pop("max_media_size_mb", None), run_id="abcd1234",
                         sleep=fake.sleep, clock=fake.clock, max_part=PART, **kw)
    dl.interval = interval
    return dl


def no_temp_files(tmp_path: Path) -> bool:
    folder = tmp_path / "tmp"
    return not folder.exists() or not any(folder.iterdir())


def test_success_item_and_events(tmp_path):
    data = bytes(range(256)) * 40
    fake = FakeTime()
    dl = make(tmp_path, ScriptedClient({7: data}), fake)
    items = asyncio.run(dl.download(doc_message(7, data, "../../x.sh")))
    sha = hashlib.sha256(data).hexdigest()
    assert items == [{"type": "document", "path": "media/documents/7_x.sh", "filename": "7_x.sh",
                      "size": len(data), "sha256": sha}]
    assert (tmp_path / "export" / items[0]["path"]).read_bytes() == data
    evts = events(tmp_path / "export")
    start, = named(evts, "media_download_start")
    finished, = named(evts, "media_download_finished")
    assert start == {"message_id": 7, "media_type": "document", "known_size": len(data),
                     "timeout_sec": pytest.approx(900 + len(data) / 2**20 * 60, abs=1e-3), "run_id": "abcd1234"}
    assert finished["outcome"] == "success" and finished["message_id"] == 7
    assert set(finished) == {"message_id", "media_type", "duration_sec", "outcome", "run_id"}
    assert "x.sh" not in (tmp_path / "export" / "logs" / "run.log").read_text()
    assert dl.stats.saved == 1 and no_temp_files(tmp_path)


def test_dedup_and_skip(tmp_path):
    data = b"same bytes" * 100
    fake = FakeTime()
    index: dict[str, str] = {}
    dl = make(tmp_path, ScriptedClient({1: data, 2: data, 3: b"z" * 3 * 2**20}), fake, sha_index=index,
              max_media_size_mb=2)
    result = asyncio.run(dl.download_many([doc_message(1, data, "a.bin"), doc_message(2, data, "b.bin"),
                                           doc_message(3, b"z" * 3 * 2**20, "big.bin")]))
    first, second = result[1][0], result[2][0]
    assert first["path"] == second["path"] and first["sha256"] == second["sha256"]
    assert second["size"] == len(data) and index == {first["sha256"]: first["path"]}
    assert len(list((tmp_path / "export" / "media" / "documents").iterdir())) == 1
    assert result[3] == [{"type": "document", "path": None, "filename": None, "size": 3 * 2**20,
                          "skipped": "max_media_size"}]
    assert (dl.stats.saved, dl.stats.dedup_hits, dl.stats.skipped_by_size) == (1, 1, 1)
    assert len(named(events(tmp_path / "export"), "media_download_start")) == 2


def test_unusable_temp_dir_fails_the_item_without_unpaired_events(tmp_path):
    fake = FakeTime()
    dl = make(tmp_path, ScriptedClient({4: b"d" * 10}), fake)
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the temp folder should go")
    dl.temp_dir = blocker / "tmp"
    items = asyncio.run(dl.download(doc_message(4, b"d" * 10)))
    assert items == [{"type": "document", "path": None, "filename": None, "error": "retry_exhausted"}]
    evts = events(tmp_path / "export")
    assert len(named(evts, "media_download_start")) == len(named(evts, "media_download_finished"))
    assert named(evts, "retry_exhausted")[0]["error"] == "NotADirectoryError"


def test_transient_errors_back_off_then_exhaust(tmp_path, monkeypatch):
    monkeypatch.setenv(PAUSE_SCALE_ENV, "1")
    fake = FakeTime()
    failures = [ConnectionError("x"), tl_errors.RPCError(None, "BAD_GATEWAY", 502), OSError("y"),
                ConnectionError("z")]
    dl = make(tmp_path, ScriptedClient({4: b"d" * 10}, {4: failures}), fake)
    items = asyncio.run(dl.download(doc_message(4, b"d" * 10)))
    assert items == [{"type": "document", "path": None, "filename": None, "error": "retry_exhausted"}]
    evts = events(tmp_path / "export")
    assert [r["attempt"] for r in named(evts, "retry")] == [1, 2, 3]
    assert [r["sleep"] for r in named(evts, "retry")] == [2, 4, 8]
    assert fake.backoffs() == [2, 4, 8]
    assert named(evts, "retry")[1]["error"] == "RPCError(502 BAD_GATEWAY)"
    exhausted, = named(evts, "retry_exhausted")
    assert exhausted["attempts"] == 4 and exhausted["error_code"] == "NETWORK_ERROR"
    outcomes = [f["outcome"] for f in named(evts, "media_download_finished")]
    assert outcomes == ["error"] * 4 and len(named(evts, "media_download_start")) == 4
    assert dl.stats.errors == 1 and no_temp_files(tmp_path)


def test_retry_then_success_and_pause_scale_zero(tmp_path, monkeypatch):
    monkeypatch.setenv(PAUSE_SCALE_ENV, "0")
    fake = FakeTime()
    dl = make(tmp_path, ScriptedClient({4: b"d" * 9000}, {4: [ConnectionError("x")]}), fake, mode="safe")
    items = asyncio.run(dl.download(doc_message(4, b"d" * 9000)))
    assert items[0]["path"] == "media/documents/4_f.bin"
    evts = events(tmp_path / "export")
    assert named(evts, "retry")[0]["sleep"] == 0
    assert [f["outcome"] for f in named(evts, "media_download_finished")] == ["error", "success"]


def test_non_transient_rpc_error_is_not_retried(tmp_path):
    fake = FakeTime()
    err = tl_errors.RPCError(None, "LOCATION_INVALID", 400)
    dl = make(tmp_path, ScriptedClient({4: b"d"}, {4: [err, err]}), fake)
    items = asyncio.run(dl.download(doc_message(4, b"d")))
    assert items[0]["error"] == "retry_exhausted"
    evts = events(tmp_path / "export")
    assert named(evts, "retry") == [] and len(named(evts, "media_download_start")) == 1


def test_stall_times_out_without_progress(tmp_path):
    fake = FakeTime()
    data = b"s" * (PART * 3)
    dl = make(tmp_path, ScriptedClient({9: data}, {9: ["stall"]}), fake, base_timeout=30)
    items = asyncio.run(dl.download(doc_message(9, data)))
    assert items == [{"type": "document", "path": None, "filename": None, "error": "download_timeout"}]
    evts = events(tmp_path / "export")
    retries = MODES["normal"].retries
    assert [f["outcome"] for f in named(evts, "media_download_finished")] == ["timeout"] * (retries + 1)
    assert [e["reason"] for e in named(evts, "download_timeout")] == ["no_progress"] * (retries + 1)
    assert [r["error"] for r in named(evts, "retry")] == ["DownloadTimeout(no_progress)"] * retries
    # the first part arrived once; every later attempt resumed after it
    assert [s.get("resumed_bytes", 0) for s in named(evts, "media_download_start")] == [0] + [PART] * retries
    assert named(evts, "media_download_start")[0]["timeout_sec"] == pytest.approx(30 + len(data) / 2**20 * 60,
                                                                                  abs=1e-3)
    assert no_temp_files(tmp_path) and dl.stats.errors == 1


def test_deadline_applies_even_with_progress(tmp_path):
    fake = FakeTime()
    data = b"p" * (PART * 10)  # 10 parts × 50 s each one at a time, deadline ≈ 60 s, stall window 60 s
    dl = make(tmp_path, ScriptedClient({9: data}, {9: ["slow"]}, fake), fake, base_timeout=60, per_file=1)
    items = asyncio.run(dl.download(doc_message(9, data)))
    assert items[0]["error"] == "download_timeout"
    evts = events(tmp_path / "export")
    assert {e["reason"] for e in named(evts, "download_timeout")} == {"deadline"}
    resumed = [s.get("resumed_bytes", 0) for s in named(evts, "media_download_start")]
    assert resumed == [i * PART for i in range(len(resumed))]  # each attempt kept its one part


def test_cancellation_writes_one_finished_event_and_no_temp(tmp_path):
    data = b"c" * (PART * 3)
    client = ScriptedClient({5: data}, {5: ["stall"]})

    async def scenario():
        dl = make(tmp_path, client, FakeTime(), base_timeout=10**6)
        dl.sleep = asyncio.sleep  # real waiting so the stall holds until we cancel
        dl.clock = lambda: 0.0
        task = asyncio.ensure_future(dl.download(doc_message(5, data)))
        await client.entered.wait()
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    evts = events(tmp_path / "export")
    assert len(named(evts, "media_download_start")) == 1
    assert [(f["outcome"], f.get("error")) for f in named(evts, "media_download_finished")] == [("error", "cancelled")]
    assert not any(client.active.values())
    assert (tmp_path / "tmp" / "document-5.part").read_bytes() == data[:PART]  # kept for the next run


def test_flood_wait_during_download_is_waited(tmp_path):
    fake = FakeTime()
    flood = tl_errors.FloodWaitError(None, capture=7)
    dl = make(tmp_path, ScriptedClient({3: b"f" * 100}, {3: [flood]}), fake)
    items = asyncio.run(dl.download(doc_message(3, b"f" * 100)))
    assert items[0]["path"] == "media/documents/3_f.bin"
    assert dl.flood.events == 1 and 10.0 in fake.sleeps  # 7 s + normal extra 3 s
    evts = events(tmp_path / "export")
    assert [f["outcome"] for f in named(evts, "media_download_finished")] == ["error", "success"]


def test_too_long_flood_wait_stops_everything(tmp_path):
    fake = FakeTime()
    flood = tl_errors.FloodWaitError(None, capture=5000)
    data = b"q" * (PART * 3)
    client = ScriptedClient({1: data, 2: data}, {1: ["stall"], 2: [flood]})
    dl = make(tmp_path, client, fake, max_wait=100)
    dl.sleep = asyncio.sleep
    with pytest.raises(RateLimitError):
        asyncio.run(dl.download_many([doc_message(1, data), doc_message(2, data)]))
    finished = named(events(tmp_path / "export"), "media_download_finished")
    assert sorted((f["outcome"], f.get("error")) for f in finished) == [("error", "FloodWaitError"), ("error", "cancelled")]
    assert (tmp_path / "tmp" / "document-1.part").read_bytes() == data[:PART]


def test_parallel_limit_follows_preset(tmp_path):
    data = {i: bytes([i]) * (PART * 4) for i in range(1, 7)}
    for mode, expected in (("normal", 2), ("safe", 1)):
        client = ScriptedClient(data)
        dl = make(tmp_path / mode, client, FakeTime(), mode=mode)
        result = asyncio.run(dl.download_many([doc_message(i, d) for i, d in data.items()]))
        assert all(items[0]["path"] for items in result.values())
        assert client.max_active == expected


def test_same_file_id_in_one_run_is_downloaded_once(tmp_path):
    data = bytes(range(256)) * 100
    client = ScriptedClient({1: data})
    dl = make(tmp_path, client, FakeTime(), file_index={})
    result = asyncio.run(dl.download_many([doc_message(1, data, "a.bin"), doc_message(2, data, "b.bin", file_id=1)]))
    assert result[2] == result[1] and result[1][0]["path"] == "media/documents/1_a.bin"
    assert len(set(client.calls)) == len(client.calls) == -(-len(data) // PART)  # each part once
    assert (dl.stats.saved, dl.stats.dedup_hits) == (1, 1)
    assert dl.store.file_index == {"document:1": result[1][0]["sha256"]}
    assert len(named(events(tmp_path / "export"), "media_download_start")) == 1


def test_file_id_already_in_the_index_is_not_downloaded(tmp_path):
    data = b"k" * 5000
    first = make(tmp_path, ScriptedClient({3: data}), FakeTime(), file_index={})
    [item] = asyncio.run(first.download(doc_message(3, data)))
    placed: list[tuple] = []
    client = ScriptedClient({3: data})
    again = make(tmp_path, client, FakeTime(), sha_index=dict(first.store.sha_index),
                 file_index=dict(first.store.file_index), on_placed=lambda *a: placed.append(a))
    assert asyncio.run(again.download(doc_message(9, data, "other.bin", file_id=3))) == [item]
    assert client.calls == [] and again.stats.dedup_hits == 1 and placed == []


def test_placed_files_are_indexed_through_on_placed(tmp_path):
    data = b"z" * 7000
    placed: list[tuple] = []
    dl = make(tmp_path, ScriptedClient({4: data}), FakeTime(), on_placed=lambda *a: placed.append(a))
    [item] = asyncio.run(dl.download(doc_message(4, data)))
    assert placed == [(item["sha256"], item["path"], "document:4")]
    assert dl.store.sha_index == {}  # the callback owns the index (the export store journals it)


def test_resume_asks_only_for_missing_parts_and_checks_the_size(tmp_path):
    data = bytes(range(256)) * 64  # 4 parts of 4 KiB
    part = tmp_path / "tmp" / "document-6.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(data[:PART + 100])  # one whole part and a torn write
    client = ScriptedClient({6: data})
    dl = make(tmp_path, client, FakeTime())
    [item] = asyncio.run(dl.download(doc_message(6, data)))
    assert item["sha256"] == hashlib.sha256(data).hexdigest()
    assert sorted(offset for _, offset, _ in client.calls) == [PART, 2 * PART, 3 * PART]
    start, = named(events(tmp_path / "export"), "media_download_start")
    assert start["resumed_bytes"] == PART and not part.exists()


def test_file_on_another_data_centre_falls_back_to_telethon(tmp_path):
    data = b"w" * 9000

    class Session:
        dc_id = 1  # the client's home data centre; the document says dc_id=2

    class OtherDcClient(ScriptedClient):
        session = Session()

        async def download_file(self, location, file, *, file_size=None, progress_callback=None, dc_id=None):
            self.fallback = (location.id, dc_id)
            with open(file, "wb") as out:
                out.write(data)
            progress_callback(len(data), file_size)

    client = OtherDcClient({5: data})
    dl = make(tmp_path, client, FakeTime())
    [item] = asyncio.run(dl.download(doc_message(5, data)))
    assert item["sha256"] == hashlib.sha256(data).hexdigest() and client.calls == []
    assert client.fallback == (5, 2)
    fallback, = named(events(tmp_path / "export"), "media_download_fallback")
    assert fallback == {"message_id": 5, "reason": "dc", "run_id": "abcd1234"}
