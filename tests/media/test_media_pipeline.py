"""MediaPipeline with a stand-in downloader: bounded waiting, commits in id order only when a
message's media are final, the page position only once a page is through, fatal errors raised."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tgexport.media.pipeline import MediaPipeline


class Msg:
    def __init__(self, mid: int) -> None:
        self.id = mid


class Downloader:
    """`download` waits until the test releases that message id."""

    def __init__(self) -> None:
        self.gates: dict[int, asyncio.Event] = {}
        self.started: list[int] = []
        self.fail: dict[int, BaseException] = {}

    async def download(self, message: Msg, info: Any, *, after: Any = None) -> list[dict[str, Any]]:
        self.started.append(message.id)
        await self.gates.setdefault(message.id, asyncio.Event()).wait()
        if message.id in self.fail:
            raise self.fail[message.id]
        if after is not None:
            await asyncio.wait([after])
        return [{"type": "document", "id": message.id}]

    def release(self, mid: int) -> None:
        self.gates.setdefault(mid, asyncio.Event()).set()


def page(ids: list[int], media: set[int]) -> list[tuple[Msg, dict[str, Any], Any]]:
    return [(Msg(i), {"id": i}, "info" if i in media else None) for i in ids]


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def test_commits_in_order_when_media_are_final() -> None:
    commits: list[tuple[list[int], int]] = []

    async def main() -> None:
        dl = Downloader()
        pipe = MediaPipeline(dl, lambda recs, pos: commits.append(([r["id"] for r in recs], pos)))
        await pipe.add_page(page([1, 2, 3, 4], {2, 4}), position=5)
        assert commits == [([1], 0)]  # 2 is still downloading: nothing after it leaves
        dl.release(4)
        await settle()
        await pipe.add_page(page([6], set()), position=6)
        assert commits == [([1], 0)]  # 4 is done, but 2 is not
        dl.release(2)
        await pipe.drain()

    asyncio.run(main())
    assert commits == [([1], 0), ([2, 3, 4, 6], 6)]


def test_waiting_messages_are_bounded() -> None:
    async def main() -> list[int]:
        dl = Downloader()
        pipe = MediaPipeline(dl, lambda recs, pos: None, max_waiting=3)
        adding = asyncio.ensure_future(pipe.add_page(page(list(range(1, 11)), set(range(1, 11))), position=10))
        await settle()
        assert not adding.done() and pipe.waiting == 3 and dl.started == [1, 2, 3]
        dl.release(1)
        await settle()
        assert pipe.waiting == 3 and dl.started == [1, 2, 3, 4]  # one committed, one more admitted
        for mid in range(2, 11):
            dl.release(mid)
        await adding
        await pipe.drain()
        return dl.started

    assert asyncio.run(main()) == list(range(1, 11))


def test_a_fatal_error_is_raised_and_cancel_stops_the_rest() -> None:
    commits: list[list[int]] = []

    async def main() -> None:
        dl = Downloader()
        dl.fail[2] = RuntimeError("stop")
        pipe = MediaPipeline(dl, lambda recs, pos: commits.append([r["id"] for r in recs]))
        await pipe.add_page(page([1, 2, 3], {1, 2, 3}), position=3)
        dl.release(1)
        dl.release(2)
        with pytest.raises(RuntimeError, match="stop"):
            await pipe.drain()
        await pipe.cancel()
        assert pipe.waiting == 0

    asyncio.run(main())
    assert commits == [[1]]


class SlotDownloader(Downloader):
    """Like Downloader, with `slots` downloads running at once and `running()` as the real one has."""

    def __init__(self, slots: int) -> None:
        super().__init__()
        self.slots = asyncio.Semaphore(slots)
        self.active: set[int] = set()

    async def download(self, message: Msg, info: Any, *, after: Any = None) -> list[dict[str, Any]]:
        async with self.slots:
            self.active.add(message.id)
            try:
                return await super().download(message, info, after=after)
            finally:
                self.active.discard(message.id)

    def running(self, mid: int) -> bool:
        return mid in self.active


def test_settle_runs_every_queued_download_and_commits_the_page() -> None:
    commits: list[tuple[list[int], int]] = []

    async def main() -> None:
        dl = SlotDownloader(slots=1)
        pipe = MediaPipeline(dl, lambda recs, pos: commits.append(([r["id"] for r in recs], pos)))
        await pipe.add_page(page([1, 2, 3, 4, 5], {2, 3, 4}), position=6)
        for mid in (2, 3, 4):
            dl.release(mid)
        await pipe.settle(run_queued=True)
        assert pipe.waiting == 0

    asyncio.run(main())
    assert commits == [([1], 0), ([2, 3, 4, 5], 6)]


def test_settle_without_queued_lets_running_finish_and_commits_up_to_the_first_cancelled() -> None:
    commits: list[tuple[list[int], int]] = []

    async def main() -> list[int]:
        dl = SlotDownloader(slots=2)
        pipe = MediaPipeline(dl, lambda recs, pos: commits.append(([r["id"] for r in recs], pos)))
        await pipe.add_page(page([1, 2, 3, 4, 5], {2, 3, 4, 5}), position=5)
        await settle()
        assert sorted(dl.active) == [2, 3]  # 4 and 5 wait for a slot
        dl.release(2)
        dl.release(3)
        await pipe.settle(run_queued=False)
        await pipe.cancel()
        return dl.started

    started = asyncio.run(main())
    assert commits == [([1], 0), ([2, 3], 0)]  # 4 never started: nothing from it on, no position
    assert 4 not in started and 5 not in started


def test_settle_stops_committing_at_a_failed_download_and_does_not_raise() -> None:
    commits: list[list[int]] = []

    async def main() -> None:
        dl = SlotDownloader(slots=3)
        dl.fail[2] = RuntimeError("connection lost")
        pipe = MediaPipeline(dl, lambda recs, pos: commits.append([r["id"] for r in recs]))
        await pipe.add_page(page([1, 2, 3], {1, 2, 3}), position=3)
        await settle()
        for mid in (1, 2, 3):
            dl.release(mid)
        await pipe.settle(run_queued=False)
        await pipe.cancel()

    asyncio.run(main())
    assert commits == [[1]]
