"""MediaDownloader end to end: a real Telethon client over TCP against the local test server."""
from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from telethon.tl import types

from errors import RateLimitError
from testkit.server import make_session, open_client
from tgexport.client.flood import FloodController
from tgexport.config.modes import MODES, PAUSE_SCALE_ENV
from tgexport.media import MediaDownloader
from tgexport.store.log import ExportLog

CHANNEL, HASH = 1234567890, 555
PART = 1024 * 1024  # the part size of our fetcher (tgexport.media.fetch.MAX_PART)
ENTITY = types.InputPeerChannel(CHANNEL, HASH)


def doc(mid: int, size: int, name: str | None = "file.bin", mime: str = "application/zip") -> dict:
    return {"id": mid, "text": f"m{mid}", "media": {"type": "document", "size": size, "mime_type": mime,
                                                     "file_name": name}}


def scenario(messages: list[dict], faults: list[dict] | None = None) -> dict:
    return {"channels": [{"id": CHANNEL, "access_hash": HASH, "username": "media_test", "title": "Media",
                          "messages": messages}], "faults": faults or []}


class Env:
    """A server, a signed-in session and an export dir for one test."""

    def __init__(self, server, tmp_path: Path) -> None:
        self.server, self.tmp = server, tmp_path
        self.session = make_session(server, tmp_path / "acc.session")
        self.export = tmp_path / "export"
        self.temp = tmp_path / "tmp"
        self.index: dict[str, str] = {}
        server.requests.reset()

    def run(self, body, mode: str = "normal", **kw: Any) -> Any:
        """Connect, load the channel history (messages.getHistory), and run `body(dl, messages)`."""
        async def main() -> Any:
            async with open_client(self.session, flood_sleep_threshold=0) as client:
                messages = {m.id: m for m in await client.get_messages(ENTITY, limit=100)}
                self.server.requests.reset()
                log = ExportLog(self.export, "e2e00001")
                flood = FloodController(extra=0, max_wait=kw.pop("max_wait", 30), log=log)
                dl = MediaDownloader(client=kw.pop("client", client), entity=ENTITY, export_dir=self.export,
                                     temp_dir=self.temp, preset=MODES[mode], log=log, flood=flood,
                                     sha_index=self.index, max_media_size_mb=kw.pop("max_media_size_mb", None),
                                     run_id="e2e00001", **kw)
                try:
                    return await body(dl, messages)
                finally:
                    log.close()
        return asyncio.run(main())

    def expected(self, mid: int) -> bytes:
        return self.server.world.expected_bytes(CHANNEL, mid)

    def events(self, name: str | None = None) -> list[dict]:
        lines = (self.export / "logs" / "run.log").read_text(encoding="utf-8").splitlines()
        evts = [json.loads(line) for line in lines]
        return [e["data"] for e in evts if name is None or e["event"] == name]

    def outcomes(self, mid: int | None = None) -> list[str]:
        """Finished outcomes, a cancelled attempt shown as "error:cancelled"."""
        return [e["outcome"] + (":cancelled" if e.get("error") == "cancelled" else "")
                for e in self.events("media_download_finished") if mid is None or e["message_id"] == mid]

    def get_files(self, mid: int | None = None) -> list[dict]:
        calls = self.server.requests.entries("upload.getFile")
        if mid is None:
            return calls
        return [c for c in calls if c["params"]["location"]["id"] & 0xFFFFFF == mid]

    def no_temp_files(self) -> bool:
        return not self.temp.exists() or not any(self.temp.iterdir())

    def assert_paired_events(self) -> None:
        starts, finishes = self.events("media_download_start"), self.events("media_download_finished")
        assert sorted(s["message_id"] for s in starts) == sorted(f["message_id"] for f in finishes)


@pytest.fixture
def env(server_factory, tmp_path, request) -> Env:
    messages, faults = request.param
    return Env(server_factory(scenario(messages, faults)), tmp_path)


def with_scenario(messages: list[dict], faults: list[dict] | None = None):
    return pytest.mark.parametrize("env", [(messages, faults)], indirect=True)


async def _all(dl: MediaDownloader, messages: dict) -> dict[int, list[dict]]:
    return await dl.download_many(list(messages.values()))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


MIXED = [
    {"id": 1, "media": {"type": "photo", "sizes": [{"type": "m", "w": 320, "h": 240, "size": 12000},
                                                  {"type": "y", "w": 1280, "h": 960, "size": 300000}]}},
    doc(2, 3 * PART + 5, "report.pdf", "application/pdf"),
    {"id": 3, "media": {"type": "video", "size": 200000, "mime_type": "video/mp4", "file_name": "clip.mp4"}},
    doc(4, 1000, None, "text/plain"),
    {"id": 5, "text": "no media"},
    {"id": 6, "media": {"type": "geo", "lat": 1.0, "long": 2.0}},
    {"id": 7, "poll": {"question": "q?", "answers": ["a", "b"]}},
    doc(8, 4 * PART, "exact.bin"),  # a multiple of the part size
]


@with_scenario(MIXED)
def test_downloads_match_server_bytes(env):
    result = env.run(_all)
    assert result[5] == result[6] == result[7] == []
    kinds = {mid: items[0]["type"] for mid, items in result.items() if items}
    assert kinds == {1: "photo", 2: "document", 3: "video", 4: "document", 8: "document"}
    assert result[1][0]["path"] == "media/photos/1.jpg"
    assert result[2][0]["path"] == "media/documents/2_report.pdf"
    assert result[3][0]["path"] == "media/videos/3_clip.mp4"
    assert result[4][0]["path"] == "media/documents/4.txt"
    for mid in (1, 2, 3, 4, 8):
        item = result[mid][0]
        data = env.expected(mid)
        stored = (env.export / item["path"]).read_bytes()
        assert _sha(stored) == _sha(data) == item["sha256"]
        assert item["size"] == len(data) and item["filename"] == item["path"].rsplit("/", 1)[1]
        timed = {"duration"} if item["type"] == "video" else set()  # videos carry their duration
        assert set(item) == {"type", "path", "filename", "size", "sha256", *timed}
    assert len(result[1][0]["sha256"]) == 64 and result[1][0]["size"] == 300000  # largest photo size
    assert env.outcomes() == ["success"] * 5 and env.no_temp_files()
    assert env.index == {r[0]["sha256"]: r[0]["path"] for r in result.values() if r}


@with_scenario([doc(1, 0, "empty-a.txt"), doc(2, 0, "empty-b.txt"), doc(3, 150000, "big.bin")])
def test_dedup_identical_bytes(env):
    async def body(dl, messages):
        first = await dl.download_many(list(messages.values()))
        again = await dl.download(messages[3])  # the same content once more (e.g. a re-export)
        return first, again, dl.stats

    first, again, stats = env.run(body)
    a, b, big = first[1][0], first[2][0], first[3][0]
    assert a["path"] == b["path"] and a["sha256"] == b["sha256"] == _sha(b"") and b["size"] == 0
    assert again == [big] and big["size"] == 150000
    assert sorted(p.name for p in (env.export / "media" / "documents").iterdir()) == sorted(
        [a["filename"], big["filename"]])
    assert env.index == {_sha(b""): a["path"], big["sha256"]: big["path"]}
    assert (stats.saved, stats.dedup_hits) == (2, 2) and env.no_temp_files()


@with_scenario([doc(1, 2 * PART, "a.bin"), doc(2, 1000, "b.bin")],
               [{"kind": "file_reference_expired", "message_id": 1}])
def test_expired_reference_is_refreshed_once(env):
    result = env.run(_all)
    assert result[1][0]["sha256"] == _sha(env.expected(1)) and result[2][0]["path"]
    assert env.server.requests.count("channels.getMessages") == 1
    assert [e["message_id"] for e in env.events("file_reference_expired")] == [1]
    assert env.outcomes(1) == ["error", "success"] and env.events("file_reference_retry_failed") == []


@with_scenario([{"id": 1, "media": {"type": "photo", "size": 40000}}, doc(2, 1000, "b.bin")],
               [{"kind": "file_reference_expired", "message_id": 1, "forever": True}])
def test_expired_reference_stays_expired(env):
    result = env.run(_all)
    assert result[1] == [{"type": "photo", "path": None, "filename": None, "error": "file_reference_expired"}]
    assert result[2][0]["path"] == "media/documents/2_b.bin"
    assert env.server.requests.count("channels.getMessages") == 1
    assert [e["message_id"] for e in env.events("file_reference_expired")] == [1]
    failed, = env.events("file_reference_retry_failed")
    assert failed["message_id"] == 1 and failed["error_code"] == "EXTERNAL_API_ERROR"
    assert env.outcomes(1) == ["error", "error"] and env.no_temp_files()


@with_scenario([doc(1, 4 * PART, "stall.bin"), doc(2, 1000, "ok.bin")],
               [{"kind": "stall", "message_id": 1, "offset": PART, "times": None}])
@pytest.mark.slow
def test_stalled_part_times_out(env, monkeypatch):
    monkeypatch.setenv(PAUSE_SCALE_ENV, "0")
    result = env.run(_all, base_timeout=2.0, per_file=1)
    assert result[1] == [{"type": "document", "path": None, "filename": None, "error": "download_timeout"}]
    assert result[2][0]["path"]
    start = [e for e in env.events("media_download_start") if e["message_id"] == 1]
    attempts = MODES["normal"].retries + 1
    assert len(start) == attempts and start[0]["timeout_sec"] > 2.0 and start[0]["known_size"] == 4 * PART
    assert env.outcomes(1) == ["timeout"] * attempts
    assert {e["reason"] for e in env.events("download_timeout")} == {"no_progress"}
    offsets = [c["params"]["offset"] for c in env.get_files(1)]
    assert offsets.count(0) == 1  # the first part, written once, is never asked for again
    assert env.no_temp_files()  # a failed item's part file is removed


@with_scenario([doc(1, 4 * PART, "drop.bin")],
               [{"kind": "drop_connection", "method": "upload.getFile", "after": 1, "times": 1}])
def test_dropped_connection_recovers(env):
    result = env.run(_all)
    assert result[1][0]["sha256"] == _sha(env.expected(1))
    assert len(env.get_files(1)) >= 5  # four parts plus the call that was dropped
    env.assert_paired_events()


@with_scenario([doc(1, 3 * PART, "flaky.bin")],
               [{"kind": "rpc_error", "method": "upload.getFile", "call": 2, "times": 1, "code": 502,
                 "message": "BAD_GATEWAY"}])
def test_transient_rpc_error_is_retried(env, monkeypatch):
    monkeypatch.setenv(PAUSE_SCALE_ENV, "0")
    result = env.run(_all)
    assert result[1][0]["sha256"] == _sha(env.expected(1))
    retry, = env.events("retry")
    assert (retry["attempt"], retry["sleep"], retry["error"]) == (1, 0, "RPCError(502 BAD_GATEWAY)")
    assert env.outcomes(1) == ["error", "success"]


@with_scenario([doc(1, 1000, "bad.bin"), doc(2, 1000, "good.bin")],
               [{"kind": "rpc_error", "method": "upload.getFile", "message_id": 1, "times": None,
                 "code": 502, "message": "BAD_GATEWAY"}])
def test_every_retry_fails(env, monkeypatch):
    monkeypatch.setenv(PAUSE_SCALE_ENV, "0")
    result = env.run(_all, mode="normal")
    assert result[1] == [{"type": "document", "path": None, "filename": None, "error": "retry_exhausted"}]
    assert result[2][0]["path"] == "media/documents/2_good.bin"
    retries = MODES["normal"].retries
    assert [e["attempt"] for e in env.events("retry")] == list(range(1, retries + 1))
    exhausted, = env.events("retry_exhausted")
    assert exhausted["attempts"] == retries + 1 and exhausted["error_code"] == "NETWORK_ERROR"
    assert len(env.get_files(1)) == retries + 1 and env.outcomes(1) == ["error"] * (retries + 1)


@with_scenario([doc(1, 300000, "big.bin"), doc(2, 1000, "small.bin"),
                {"id": 3, "media": {"type": "photo", "size": 200000}}])
def test_max_media_size_skips_without_download(env):
    async def body(dl, messages):
        return await dl.download_many(list(messages.values())), dl.stats

    result, stats = env.run(body, max_media_size_mb=0.1)
    assert result[1] == [{"type": "document", "path": None, "filename": None, "size": 300000,
                          "skipped": "max_media_size"}]
    assert result[3][0]["skipped"] == "max_media_size" and result[2][0]["path"]
    assert env.get_files(1) == [] and env.get_files(3) == []
    assert stats.skipped_by_size == 2 and [e["message_id"] for e in env.events("media_download_start")] == [2]


HOSTILE = ["../../x.sh", "..\\..\\win.bat", "a\u0000b\u001f.txt", "y" * 300 + ".pdf", "CON.txt", "nul",
           "\u202egnp.exe", "...", "/etc/passwd", " trailing. "]


@with_scenario([doc(i + 1, 100 + i, name) for i, name in enumerate(HOSTILE)])
def test_hostile_names_stay_inside(env):
    result = env.run(_all)
    folder = (env.export / "media" / "documents").resolve()
    stored = sorted(p.name for p in folder.iterdir())
    assert len(stored) == len(HOSTILE)
    for mid, items in result.items():
        path = (env.export / items[0]["path"]).resolve()
        assert path.parent == folder and path.name.startswith(f"{mid}") and path.is_file()
        assert len(path.name.encode()) <= 140
    assert result[1][0]["filename"] == "1_x.sh" and result[5][0]["filename"] == "5__CON.txt"
    assert not (env.tmp / "x.sh").exists() and not (env.export / "x.sh").exists()


class CountingClient:
    """Delegates to the real client; counts files with a getFile request in flight."""

    def __init__(self, client) -> None:
        self._client, self.active, self.peak = client, {}, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    async def __call__(self, request: Any) -> Any:
        fid = request.location.id
        self.active[fid] = self.active.get(fid, 0) + 1
        self.peak = max(self.peak, sum(1 for n in self.active.values() if n))
        try:
            return await self._client(request)
        finally:
            self.active[fid] -= 1


PARALLEL = [doc(i, 2 * PART, f"p{i}.bin") for i in range(1, 7)]


@pytest.mark.parametrize("mode, expected", [("normal", 2), ("safe", 1)])
@with_scenario(PARALLEL, [{"kind": "slow", "method": "upload.getFile", "delay": 0.05, "times": None}])
def test_parallel_downloads_follow_mode(env, mode, expected):
    async def body(dl, messages):
        counting = CountingClient(dl.client)
        dl.client = dl.fetcher.client = counting
        result = await dl.download_many(list(messages.values()))
        return result, counting.peak

    result, peak = env.run(body, mode=mode)
    assert peak == expected and all(items[0]["path"] for items in result.values())
    slow = next(r for r in env.server.world.faults.rules if r.kind == "slow")
    assert slow.peak >= expected * 2  # the server held several parts (of `expected` files) at once


@with_scenario([doc(1, 3 * PART, "hang.bin")], [{"kind": "stall", "message_id": 1, "part": 1, "times": None}])
def test_cancel_mid_download(env):
    async def body(dl, messages):
        task = asyncio.ensure_future(dl.download(messages[1]))
        parts = list(env.temp.glob("document-*.part"))
        while not parts or parts[0].stat().st_size < PART or len(env.get_files(1)) < 2:
            await asyncio.sleep(0.01)
            parts = list(env.temp.glob("document-*.part"))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    env.run(body)
    assert len(env.events("media_download_start")) == 1 and env.outcomes() == ["error:cancelled"]
    assert not (env.export / "media" / "documents" / "1_hang.bin").exists()
    kept = env.temp / "document-{}.part".format(env.get_files(1)[0]["params"]["location"]["id"])
    assert kept.read_bytes() == env.expected(1)[:PART]  # the part before the stall, kept for resuming


@with_scenario([doc(1, 1000, "a.bin"), doc(2, 1000, "b.bin")],
               [{"kind": "flood_wait", "method": "upload.getFile", "call": 1, "seconds": 1, "times": 1}])
def test_flood_wait_goes_through_controller(env):
    async def body(dl, messages):
        return await dl.download_many(list(messages.values())), dl.flood.events

    result, flood_events = env.run(body, mode="safe")
    assert all(items[0]["path"] for items in result.values()) and flood_events == 1
    assert env.events("flood_wait")[0]["seconds"] == 1


@with_scenario([doc(1, 3 * PART, "a.bin"), doc(2, 1000, "b.bin")],
               [{"kind": "flood_wait", "method": "upload.getFile", "message_id": 2, "seconds": 500,
                 "times": None}, {"kind": "slow", "method": "upload.getFile", "message_id": 1, "delay": 0.2}])
def test_long_flood_wait_stops_the_run(env):
    with pytest.raises(RateLimitError):
        env.run(_all, max_wait=60)
    env.assert_paired_events()
    assert "error:cancelled" in env.outcomes(1)
