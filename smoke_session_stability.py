#!/usr/bin/env python
"""Session stability smoke tests: the session lock, the connect retry and (unless
`--no-integration`) end-to-end runs of the CLI against the local Telegram server.

Run: `python smoke_session_stability.py [--no-integration]` (PASS/FAIL lines, exit 0/1)
or `pytest smoke_session_stability.py`.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import errors  # noqa: E402
from session_lock import (  # noqa: E402
    BUSY_MESSAGE,
    SessionLock,
    SessionLockBusy,
    lock_path_for,
    session_db_path,
)
from tests.stability.children import start_ready_child  # noqa: E402
from tgexport.client.connect import retry_locked_database  # noqa: E402
from tgexport.config.modes import PAUSE_SCALE_ENV  # noqa: E402
from tgexport.session.database import SQLITE_TIMEOUT_ENV, discard_session, open_session  # noqa: E402

RACE_WORKERS = 16
RACE_ROUNDS = 20  # per starting state
CHURN_WORKERS = 8
CHURN_ATTEMPTS = 300
CHILD_TIMEOUT = 30.0

# A child that takes the lock, says "ready", blocks, and says "released" from its `finally`.
HOLDER_CODE = r"""
import asyncio, sys, time
from session_lock import SessionLock
from tgexport.run.signals import raise_on_sigterm
raise_on_sigterm()
lock = SessionLock(sys.argv[1], command="holder")
lock.acquire()
try:
    print("ready", flush=True)
    if sys.argv[2] == "asyncio":
        asyncio.run(asyncio.sleep(60))
    else:
        time.sleep(60)
finally:
    lock.release()
    print("released", flush=True)
"""


# ---------------------------------------------------------------- helpers


@contextlib.contextmanager
def _env(**values: str | None) -> Iterator[None]:
    """Set (or with None, unset) environment variables for the duration of the block."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def lines(self) -> list[tuple[str, str]]:
        return [(r.levelname, r.getMessage()) for r in self.records]


def _capture_logger(name: str) -> tuple[logging.Logger, _ListHandler]:
    logger = logging.getLogger(f"smoke_session_stability.{name}")
    logger.handlers.clear()
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    handler = _ListHandler()
    logger.addHandler(handler)
    return logger, handler


def _start_holder(session: Path, flavour: str = "sync") -> subprocess.Popen[str]:
    """Start a child that holds the session lock; returns once it printed `ready`."""
    return start_ready_child(HOLDER_CODE, str(session), flavour)


def _dead_pid() -> int:
    """The PID of a process that has already exited."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _write_lock_file(session: Path, pid: int) -> Path:
    path = lock_path_for(session)
    owner = {"pid": pid, "host": "elsewhere", "started_at": "2020-01-01T00:00:00Z", "command": "parse"}
    path.write_text(json.dumps(owner), encoding="utf-8")
    return path


def _read_lock_owner(session: Path) -> dict[str, Any]:
    return json.loads(lock_path_for(session).read_text(encoding="utf-8"))


def _assert_busy(session: Path, expected_pid: int | None) -> SessionLockBusy:
    try:
        SessionLock(session).acquire()
    except SessionLockBusy as exc:
        assert str(exc) == BUSY_MESSAGE
        assert isinstance(exc, errors.SessionLockedError) and exc.code == errors.SESSION_LOCKED
        assert exc.owner_pid == expected_pid, (exc.owner_pid, expected_pid)
        return exc
    raise AssertionError("second acquire succeeded while the lock was held")


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=CHILD_TIMEOUT)


# ---------------------------------------------------------------- lock: basics


def test_lock_acquire_release(tmp_path: Path) -> None:
    session = tmp_path / "acct"
    lock = SessionLock(session, command="parse")
    assert lock.lock_path == tmp_path / "acct.session.lock"
    lock.acquire()
    try:
        owner = _read_lock_owner(session)
        assert owner["pid"] == os.getpid() and owner["command"] == "parse"
        assert owner["host"] and owner["started_at"].endswith("Z")
        assert not (tmp_path / "acct.session").exists(), "the lock must not create the session file"
    finally:
        lock.release()
    assert not lock.lock_path.exists()
    lock.release()  # idempotent
    with SessionLock(session) as again:
        assert again.held
    assert not lock.lock_path.exists()


def test_lock_busy_same_process(tmp_path: Path) -> None:
    session = tmp_path / "acct.session"
    with SessionLock(session, command="first"):
        exc = _assert_busy(session, os.getpid())
        assert exc.owner["command"] == "first"
        assert _read_lock_owner(session)["command"] == "first", "a failed attempt must not touch the owner"
    with SessionLock(session):
        pass


def test_lock_busy_other_process(tmp_path: Path) -> None:
    session = tmp_path / "acct"
    holder = _start_holder(session)
    try:
        exc = _assert_busy(session, holder.pid)
        assert exc.owner["command"] == "holder"
        assert not session_db_path(session).exists(), "a busy attempt must not create the session database"
    finally:
        _stop(holder)


def test_lock_stale_file_with_dead_pid(tmp_path: Path) -> None:
    session = tmp_path / "acct"
    dead = _dead_pid()
    _write_lock_file(session, dead)
    with SessionLock(session, command="new") as lock:
        assert _read_lock_owner(session)["pid"] == os.getpid()
        assert lock.held
    assert not lock_path_for(session).exists()


def test_lock_file_with_pid_of_unrelated_live_process(tmp_path: Path) -> None:
    session = tmp_path / "acct"
    unrelated = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _write_lock_file(session, unrelated.pid)
        with SessionLock(session):
            assert _read_lock_owner(session)["pid"] == os.getpid()
    finally:
        _stop(unrelated)


def test_lock_path_aliases(tmp_path: Path) -> None:
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    real_session = real_dir / "acct.session"
    sqlite3.connect(real_session).close()
    (tmp_path / "link.session").symlink_to(real_session)
    (tmp_path / "dirlink").symlink_to(real_dir, target_is_directory=True)
    with contextlib.chdir(real_dir):
        forms = ["acct", "acct.session", "./acct", str(real_session), str(tmp_path / "link"),
                 str(tmp_path / "link.session"), str(tmp_path / "dirlink" / "acct")]
        assert {session_db_path(f) for f in forms} == {real_session.resolve()}
        for holder_form in forms:
            with SessionLock(holder_form):
                for other in forms:
                    _assert_busy(Path(other), os.getpid())
    # A session that does not exist yet: the folder is resolved, the name kept.
    new = tmp_path / "dirlink" / "fresh"
    assert session_db_path(new) == real_dir.resolve() / "fresh.session"
    with SessionLock(new):
        _assert_busy(real_dir / "fresh.session", os.getpid())
    assert session_db_path("x.SESSION").name == "x.SESSION.session"  # Telethon's own rule


def test_lock_missing_folder_is_config_error(tmp_path: Path) -> None:
    try:
        SessionLock(tmp_path / "nope" / "acct").acquire()
    except errors.ConfigError as exc:
        assert "does not exist" in str(exc)
    else:
        raise AssertionError("expected ConfigError")


def test_lock_file_that_is_a_symlink_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep me", encoding="utf-8")
    lock_path_for(tmp_path / "acct").symlink_to(target)
    try:
        SessionLock(tmp_path / "acct").acquire()
    except errors.ConfigError as exc:
        assert "cannot open session lock file" in str(exc)
    else:
        raise AssertionError("a symlinked lock file was followed")
    assert target.read_text(encoding="utf-8") == "keep me"


# ---------------------------------------------------------------- lock: waiting


class _FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_lock_wait_polls_until_released(tmp_path: Path) -> None:
    session = tmp_path / "acct"
    holder = SessionLock(session)
    holder.acquire()
    clock = _FakeClock()

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if len(clock.sleeps) == 3:
            holder.release()

    waiter = SessionLock(session, clock=clock, sleep=sleep, poll_interval=0.5)
    waiter.acquire(wait=10)
    try:
        assert clock.sleeps == [0.5, 0.5, 0.5]
        assert _read_lock_owner(session)["pid"] == os.getpid()
    finally:
        waiter.release()


def test_lock_wait_gives_up_at_deadline(tmp_path: Path) -> None:
    session = tmp_path / "acct"
    with SessionLock(session):
        clock = _FakeClock()
        waiter = SessionLock(session, clock=clock, sleep=clock.sleep, poll_interval=0.4)
        try:
            waiter.acquire(wait=1.0)
        except SessionLockBusy as exc:
            assert exc.owner_pid == os.getpid()
        else:
            raise AssertionError("acquire(wait=1) succeeded while held")
        assert len(clock.sleeps) == 3 and abs(sum(clock.sleeps) - 1.0) < 1e-9, clock.sleeps
        assert not waiter.held


# ---------------------------------------------------------------- lock: release paths


def test_lock_released_on_exception(tmp_path: Path) -> None:
    session = tmp_path / "acct"
    try:
        with SessionLock(session):
            raise ValueError("boom")
    except ValueError:
        pass
    assert not lock_path_for(session).exists()
    with SessionLock(session):
        pass


def _signal_holder(tmp_path: Path, sig: int, flavour: str) -> None:
    session = tmp_path / "acct"
    holder = _start_holder(session, flavour)
    try:
        assert lock_path_for(session).exists()
        holder.send_signal(sig)
        out, err = holder.communicate(timeout=CHILD_TIMEOUT)
    finally:
        _stop(holder)
    assert "released" in out, (out, err)
    assert "KeyboardInterrupt" in err, err  # unwound like Ctrl+C (the CLI maps it to exit 130)
    assert not lock_path_for(session).exists(), "lock file left behind"
    with SessionLock(session):
        pass


def test_lock_released_on_sigint(tmp_path: Path) -> None:
    _signal_holder(tmp_path, signal.SIGINT, "sync")


def test_lock_released_on_sigterm(tmp_path: Path) -> None:
    _signal_holder(tmp_path, signal.SIGTERM, "sync")


def test_lock_released_on_sigterm_inside_asyncio(tmp_path: Path) -> None:
    _signal_holder(tmp_path, signal.SIGTERM, "asyncio")


def test_lock_sigkill_holder_next_acquires_at_once(tmp_path: Path) -> None:
    session = tmp_path / "acct"
    holder = _start_holder(session)
    holder.kill()
    holder.wait(timeout=CHILD_TIMEOUT)
    assert _read_lock_owner(session)["pid"] == holder.pid, "SIGKILL leaves the file (stale)"
    with SessionLock(session):  # wait=0: must not be blocked by the stale file
        assert _read_lock_owner(session)["pid"] == os.getpid()


def test_lock_forked_child_release_keeps_parent_lock(tmp_path: Path) -> None:
    session = tmp_path / "acct"
    with SessionLock(session) as lock:
        pid = os.fork()
        if pid == 0:  # child: releasing the inherited object must not unlink the parent's file
            lock.release()
            os._exit(0)
        os.waitpid(pid, 0)
        assert lock.lock_path.exists()
        _assert_busy(session, os.getpid())


# ---------------------------------------------------------------- lock: races


def _race_worker(session: str, marker: str, barrier: Any, results: Any, rounds: int, index: int) -> None:
    """Per round: start together, try once, report, hold until all tried, release."""
    try:
        for rnd in range(rounds):
            barrier.wait()
            lock = SessionLock(session, command=f"race-{index}")
            got = double = False
            try:
                lock.acquire()
                got = True
                try:
                    os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                except FileExistsError:
                    double = True
            except SessionLockBusy:
                pass
            results.put((rnd, index, got, double))
            barrier.wait()  # everyone has tried while the winner still holds
            if got:
                if not double:
                    os.unlink(marker)
                lock.release()
            barrier.wait()  # released; the parent prepares the next round
    except BaseException:
        barrier.abort()
        raise


def _prepare_race_state(session: Path, state: str, live_pid: int) -> None:
    path = lock_path_for(session)
    if state == "none":
        path.unlink(missing_ok=True)
    elif state == "stale":
        _write_lock_file(session, _dead_pid())
    else:
        _write_lock_file(session, live_pid)


def test_lock_race_16_processes_start_together(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    session = tmp_path / "acct"
    marker = tmp_path / "holder.marker"
    states = ["none", "stale", "reused_pid"]
    total_rounds = RACE_ROUNDS * len(states)
    barrier = ctx.Barrier(RACE_WORKERS + 1, timeout=CHILD_TIMEOUT)
    results = ctx.Queue()
    workers = [
        ctx.Process(target=_race_worker, args=(str(session), str(marker), barrier, results, total_rounds, i))
        for i in range(RACE_WORKERS)
    ]
    unrelated = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    for w in workers:
        w.start()
    try:
        for rnd in range(total_rounds):
            _prepare_race_state(session, states[rnd // RACE_ROUNDS], unrelated.pid)
            barrier.wait()
            outcome = [results.get(timeout=CHILD_TIMEOUT) for _ in range(RACE_WORKERS)]
            winners = [i for (_, i, got, _) in outcome if got]
            doubles = [i for (_, i, _, double) in outcome if double]
            assert {r for (r, *_) in outcome} == {rnd}
            assert len(winners) == 1 and not doubles, (states[rnd // RACE_ROUNDS], rnd, winners, doubles)
            barrier.wait()
            barrier.wait()
            assert not lock_path_for(session).exists()
    finally:
        for w in workers:
            w.join(timeout=CHILD_TIMEOUT)
            if w.is_alive():
                w.kill()
        _stop(unrelated)
    assert all(w.exitcode == 0 for w in workers), [w.exitcode for w in workers]


def _churn_worker(session: str, marker: str, start: Any, counts: Any, index: int) -> None:
    """Acquire/release as fast as possible; a marker made with O_EXCL catches two holders."""
    start.wait()
    got = doubles = 0
    for _ in range(CHURN_ATTEMPTS):
        lock = SessionLock(session)
        try:
            lock.acquire()
        except SessionLockBusy:
            continue
        got += 1
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            os.unlink(marker)
        except FileExistsError:
            doubles += 1
        lock.release()
    counts[index * 2] = got
    counts[index * 2 + 1] = doubles


def test_lock_churn_release_unlink_race(tmp_path: Path) -> None:
    """Holders unlink on release while others open the old inode: still never two holders."""
    ctx = multiprocessing.get_context("fork")
    session, marker = tmp_path / "acct", tmp_path / "holder.marker"
    start = ctx.Barrier(CHURN_WORKERS, timeout=CHILD_TIMEOUT)
    counts = ctx.Array("i", CHURN_WORKERS * 2)
    workers = [
        ctx.Process(target=_churn_worker, args=(str(session), str(marker), start, counts, i))
        for i in range(CHURN_WORKERS)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=CHILD_TIMEOUT * 2)
    assert all(w.exitcode == 0 for w in workers), [w.exitcode for w in workers]
    acquired, doubles = sum(counts[0::2]), sum(counts[1::2])
    assert doubles == 0, f"{doubles} double acquisitions out of {acquired}"
    assert acquired >= CHURN_ATTEMPTS, acquired
    assert not lock_path_for(session).exists()


# ---------------------------------------------------------------- connect retry


class _Operation:
    """An async operation that raises the given errors first, then returns `result`."""

    def __init__(self, failures: list[BaseException], result: object = "client") -> None:
        self.failures = list(failures)
        self.result = result
        self.calls = 0

    async def __call__(self) -> object:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return self.result


def _locked() -> sqlite3.OperationalError:
    return sqlite3.OperationalError("database is locked")


def _run_retry(operation: _Operation, **kwargs: Any) -> tuple[object, list[float], _ListHandler]:
    logger, handler = _capture_logger("retry")
    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    result = asyncio.run(retry_locked_database(operation, sleep=fake_sleep, logger=logger, **kwargs))
    return result, sleeps, handler


def test_retry_succeeds_after_locked_attempts() -> None:
    with _env(**{PAUSE_SCALE_ENV: None}):
        op = _Operation([_locked(), _locked()])
        result, sleeps, handler = _run_retry(op)
    assert result == "client" and op.calls == 3
    assert sleeps == [2, 4]
    assert handler.lines() == [
        ("WARNING", "connect database is locked, retry 1/5 in 2 s: database is locked"),
        ("WARNING", "connect database is locked, retry 2/5 in 4 s: database is locked"),
        ("INFO", "connect succeeded after 3 attempt(s)"),
    ]


def test_retry_first_attempt_success_logs_nothing() -> None:
    op = _Operation([])
    result, sleeps, handler = _run_retry(op)
    assert (result, op.calls, sleeps, handler.lines()) == ("client", 1, [], [])


def test_retry_other_errors_are_not_retried() -> None:
    for error in (
        sqlite3.OperationalError("no such table: sessions"),
        sqlite3.OperationalError("database table is locked"),
        sqlite3.DatabaseError("file is not a database"),
        ConnectionRefusedError("refused"),
    ):
        op = _Operation([error])
        try:
            _run_retry(op)
        except BaseException as exc:  # noqa: BLE001 - the very same object must come out
            assert exc is error, (exc, error)
        else:
            raise AssertionError(f"{error!r} was swallowed")
        assert op.calls == 1


def test_retry_exhaustion_raises_session_locked() -> None:
    with _env(**{PAUSE_SCALE_ENV: None}):
        op = _Operation([_locked() for _ in range(10)])
        try:
            _run_retry(op)
        except errors.SessionLockedError as exc:
            assert exc.code == errors.SESSION_LOCKED and exc.exit_code == errors.EXIT_FATAL
            assert "database is locked" in str(exc) and "6 attempt(s)" in str(exc)
            assert isinstance(exc.__cause__, sqlite3.OperationalError)
        else:
            raise AssertionError("no SessionLockedError")
    assert op.calls == 6


def test_retry_exhaustion_log_lines_and_backoff() -> None:
    with _env(**{PAUSE_SCALE_ENV: None}):
        logger, handler = _capture_logger("exhaust")
        sleeps: list[float] = []

        async def fake_sleep(seconds: float) -> None:
            sleeps.append(seconds)

        op = _Operation([_locked() for _ in range(4)])
        try:
            asyncio.run(retry_locked_database(op, retries=3, sleep=fake_sleep, logger=logger))
        except errors.SessionLockedError:
            pass
        else:
            raise AssertionError("no SessionLockedError")
    assert sleeps == [2, 4, 8] and op.calls == 4
    assert [m for _, m in handler.lines()] == [
        f"connect database is locked, retry {n}/3 in {2**n} s: database is locked" for n in (1, 2, 3)
    ]


def test_retry_backoff_follows_pause_scale() -> None:
    with _env(**{PAUSE_SCALE_ENV: "0.05"}):
        op = _Operation([_locked(), _locked(), _locked()])
        _, sleeps, handler = _run_retry(op)
    assert [round(s, 6) for s in sleeps] == [0.1, 0.2, 0.4]
    assert handler.lines()[0] == ("WARNING", "connect database is locked, retry 1/5 in 0.1 s: database is locked")
    assert handler.lines()[-1] == ("INFO", "connect succeeded after 4 attempt(s)")


def _hold_exclusive(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db, timeout=0, isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    return conn


def test_session_db_busy_timeout_from_env(tmp_path: Path) -> None:
    with _env(**{SQLITE_TIMEOUT_ENV: "0.25"}):
        session = open_session(str(tmp_path / "acct"))
    assert session.filename.endswith("acct.session")
    assert session._conn.execute("pragma busy_timeout").fetchone()[0] == 250
    session.close()
    with _env(**{SQLITE_TIMEOUT_ENV: None}):
        session = open_session(str(tmp_path / "acct"))
    assert session._conn.execute("pragma busy_timeout").fetchone()[0] == 5000
    session.close()


def test_retry_against_a_really_locked_session_database(tmp_path: Path) -> None:
    """Real SQLite: another connection holds BEGIN EXCLUSIVE; opening the session retries, then succeeds."""
    db = tmp_path / "acct.session"
    open_session(str(db)).close()  # create the tables
    holder = _hold_exclusive(db)
    logger, handler = _capture_logger("real")
    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 2:
            holder.execute("COMMIT")

    async def operation() -> object:
        return open_session(str(db))

    with _env(**{SQLITE_TIMEOUT_ENV: "0", PAUSE_SCALE_ENV: None}):
        session = asyncio.run(retry_locked_database(operation, sleep=fake_sleep, logger=logger))
    session.close()
    holder.close()
    assert sleeps == [2, 4]
    assert handler.lines()[-1] == ("INFO", "connect succeeded after 3 attempt(s)")


def test_discard_session_drops_its_lock_without_committing(tmp_path: Path) -> None:
    db = tmp_path / "acct.session"
    session = open_session(str(db))
    session._conn.execute("insert into entities values (1, 2, 'u', null, 'n', 0)")  # open write txn
    try:
        _hold_exclusive(db)
    except sqlite3.OperationalError as exc:
        assert "database is locked" in str(exc)
    else:
        raise AssertionError("the pending write did not lock the database")
    discard_session(session)
    discard_session(session)  # idempotent
    other = _hold_exclusive(db)
    assert other.execute("select count(*) from entities").fetchone()[0] == 0, "discard must not commit"
    other.close()


# ---------------------------------------------------------------- integration (local server)
# Defined in tests/stability/integration.py (real CLI processes against the local server).

try:
    from tests.stability.integration import (  # noqa: E402,F401
        test_integration_busy_lock_refused_without_opening_session,
        test_integration_lock_wait_then_succeeds,
        test_integration_second_parse_is_refused,
        test_integration_sigint_releases_lock,
        test_integration_sigterm_releases_lock,
        test_integration_sqlite_locked_briefly_retries,
        test_integration_sqlite_locked_too_long_fails_cleanly,
    )
except ImportError as _import_error:  # pragma: no cover - reported as a failing test
    _INTEGRATION_IMPORT_ERROR = repr(_import_error)

    def test_integration_available() -> None:
        raise AssertionError(f"integration tests unavailable: {_INTEGRATION_IMPORT_ERROR}")


def _parse_args(argv: list[str]) -> bool:
    """True when integration tests should run."""
    unknown = [a for a in argv if a != "--no-integration"]
    if unknown:
        raise SystemExit(f"usage: {Path(__file__).name} [--no-integration]")
    return "--no-integration" not in argv


if __name__ == "__main__":
    from testkit.smoke import run_smoke

    run_integration = _parse_args(sys.argv[1:])
    sys.exit(run_smoke(globals(), skip=lambda name: name.startswith("test_integration") and not run_integration))
