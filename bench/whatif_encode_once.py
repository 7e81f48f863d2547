"""Experiment (not part of run_all): what encoding every record once would give the full-export ratio and
peak memory. Delete once the parser does it for real.

The proposal, applied here by monkeypatching the runner's process only (no repository file changes):
1. `export_layout.encode_message` encodes with one prebuilt C encoder (`json.encoder.c_make_encoder`,
   no circular check) and keeps the bytes, so the journal, export.json and the stdout result share them;
2. `telegram_parser_skill.emit` writes the result with those bytes, message by message, instead of
   building the whole text with `dump_json_text` (same output, byte for byte);
3. a checkpoint every 5,000 records instead of 1,000 (`parse_run.CHECKPOINT_RECORDS`).

Usage: python bench/whatif_encode_once.py [--repeats 5] [--memory 100000]
       python bench/whatif_encode_once.py --run STATS.json ARGS...   (the patched runner itself)
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent


def patch() -> None:
    """Apply the three changes above to this process."""
    from json.encoder import c_make_encoder, encode_basestring

    import telegram_parser_skill
    from tgexport import export_layout, export_store, parse_run
    from tgexport.atomic_json import dump_json_text

    def fail(value: Any) -> None:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")

    encoder = c_make_encoder(None, fail, encode_basestring, None, ": ", ", ", False, False, True)
    cache: dict[int, tuple[Any, bytes]] = {}

    def encode_message(record: dict[str, Any]) -> bytes:
        hit = cache.get(id(record))
        if hit is not None and hit[0] is record:
            return hit[1]
        data = "".join(encoder(record, 0)).encode("utf-8")
        cache[id(record)] = (record, data)
        return data

    def emit(result: Any) -> None:
        messages = result.get("new_messages") if isinstance(result, dict) else None
        if not messages:
            sys.stdout.write(dump_json_text(result))
            sys.stdout.flush()
            return
        before, after = dump_json_text({**result, "new_messages": []}).split('"new_messages": []', 1)
        sys.stdout.flush()
        out = sys.stdout.buffer
        out.write((before + '"new_messages": [\n    ').encode("utf-8"))
        out.write(b",\n    ".join(encode_message(m) for m in messages))
        out.write(("\n  ]" + after).encode("utf-8"))
        out.flush()

    export_layout.encode_message = export_store.encode_message = encode_message
    parse_run.CHECKPOINT_RECORDS = 5000
    telegram_parser_skill.emit = emit


def _parser(server: Any, run_dir: Path, channel: str, patched: bool) -> tuple[dict[str, Any], str]:
    from common import fresh_session, parser_env

    fresh_session(server, run_dir, "parser")
    runner = [str(Path(__file__).resolve()), "--run"] if patched else [str(BENCH_DIR / "run_parser.py")]
    done = subprocess.run([sys.executable, *runner, str(run_dir / "stats.json"), "parse", "--channel", f"@{channel}",
                           "--session-file", str(run_dir / "parser"), "--output-dir", str(run_dir / "out")],
                          env=parser_env(run_dir), cwd=run_dir, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads((run_dir / "stats.json").read_text(encoding="utf-8")), done.stdout


def compare(repeats: int) -> None:
    """raw / current / patched, interleaved on one server; prints the median ratios and checks stdout."""
    import export_bench as eb
    from common import RequestCounter, serve, workdir

    rows: dict[str, list[float]] = {k: [] for k in ("raw", "raw_cpu", "now", "now_cpu", "new", "new_cpu")}
    with workdir("bench-whatif-") as tmp:
        scenario = tmp / "s.json"
        scenario.write_text(json.dumps(eb.export_scenario(eb.FULL)), encoding="utf-8")
        with serve(tmp, scenario=scenario) as server:
            bench = eb.Bench(server, RequestCounter(tmp / "none.jsonl"))
            bench.raw(tmp / "warm", eb.EXPORT_CHANNEL)
            for i in range(repeats):
                seconds, _, cpu = bench.raw(tmp / f"raw{i}", eb.EXPORT_CHANNEL)
                rows["raw"].append(seconds)
                rows["raw_cpu"].append(cpu)
                outputs = []
                for name, patched in (("now", False), ("new", True)):
                    stats, out = _parser(server, tmp / f"{name}{i}", eb.EXPORT_CHANNEL, patched)
                    rows[name].append(stats["seconds"])
                    rows[f"{name}_cpu"].append(stats["cpu_seconds"])
                    outputs.append(json.loads(out)["new_messages"])
                if outputs[0] != outputs[1]:
                    raise RuntimeError("the patched run printed other new_messages")
    med = statistics.median
    for name in ("now", "new"):
        wall = med([a / b for a, b in zip(rows[name], rows["raw"], strict=True)])
        cpu = med([a / b for a, b in zip(rows[f"{name}_cpu"], rows["raw_cpu"], strict=True)])
        print(f"{name}: parser {med(rows[name]):.2f} s (raw {med(rows['raw']):.2f} s); "
              f"wall ratio {wall:.2f}, CPU ratio {cpu:.2f}")


def memory(count: int) -> None:
    """Peak RSS of one full export of `count` messages, current vs patched."""
    import export_bench as eb
    from common import serve, workdir

    with workdir("bench-whatif-") as tmp:
        scenario = tmp / "m.json"
        scenario.write_text(json.dumps(eb.memory_scenario(eb.Sizes(memory=(count,)))), encoding="utf-8")
        with serve(tmp, scenario=scenario) as server:
            for name, patched in (("now", False), ("new", True)):
                stats, _ = _parser(server, tmp / name, eb.memory_channel(count), patched)
                print(f"{name}: {count:,} messages, peak RSS {stats['maxrss_kb'] / 1000:.0f} MB")


def main() -> int:
    if sys.argv[1:2] == ["--run"]:
        sys.argv = [sys.argv[0], *sys.argv[2:]]
        sys.path.insert(0, str(BENCH_DIR))
        import run_parser  # imports the parser first, as for every measured run

        patch()
        return run_parser.main()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--memory", type=int, default=0, help="also peak RSS at this many messages (e.g. 100000)")
    args = ap.parse_args()
    sys.path.insert(0, str(BENCH_DIR))
    compare(args.repeats)
    if args.memory:
        memory(args.memory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
