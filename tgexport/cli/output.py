"""What the CLI prints: the result as UTF-8 JSON on stdout, and per failure one JSON object on stdout
(`{"error": {...}}`, or the saved result carrying `error`) plus one `Error:` line on stderr."""
from __future__ import annotations

import codecs
import json
import logging
import sys
from typing import Any

from errors import ParserError, error_json, one_line
from tgexport.store.layout import write_result

log = logging.getLogger("telegram_parser_skill")


def fail(exc: ParserError, cause: BaseException | None = None, result: Any = None, *, stdout: bool = True) -> int:
    """Log the error with its code (and `cause`'s traceback), print it, return the exit code."""
    log.error(one_line(exc.log_message), exc_info=cause, extra={"error_code": exc.code})
    return report(exc, result, stdout=stdout)


def report(exc: BaseException, result: Any = None, message: str | None = None, *, stdout: bool = True) -> int:
    """Print one JSON object on stdout (`result`, which already names the error, else `{"error": …}`)
    and one `Error:` line on stderr; return the exit code (1 unless `exc` carries another).

    `stdout=False` when the command's lines already carry the error (a batch's JSON Lines)."""
    text = message or one_line(exc)
    try:
        if stdout:
            emit(result if result is not None else {"error": error_json(exc, text)})
    except (OSError, ValueError) as closed:  # stdout gone (closed pipe): the Error line and exit code remain
        log.warning("could not print the error to stdout: %s", one_line(closed))
    print(f"Error: {text}", file=sys.stderr, flush=True)
    return getattr(exc, "exit_code", 1)


class _TextSink:
    """`write(bytes)` onto a text-only stdout (e.g. replaced by a caller), decoded incrementally: a
    streamed chunk may end inside a UTF-8 character."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.decoder = codecs.getincrementaldecoder("utf-8")()

    def write(self, data: bytes) -> int:
        self.stream.write(self.decoder.decode(data))
        return len(data)


def emit(result: Any) -> None:
    """Print the command's result as UTF-8 JSON on stdout (messages streamed from export.json's bytes)."""
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # a text-only stdout (e.g. replaced by a caller)
        write_result(result, _TextSink(sys.stdout))
    else:
        write_result(result, buffer)
        buffer.flush()
    sys.stdout.flush()


def emit_line(result: dict[str, Any]) -> None:
    """Print one result as a single UTF-8 JSON line (JSON Lines: a batch prints one per channel) and flush."""
    text = json.dumps(result, ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n"
    buffer = getattr(sys.stdout, "buffer", None)
    sys.stdout.flush()
    if buffer is None:
        sys.stdout.write(text)
    else:
        buffer.write(text.encode("utf-8"))
        buffer.flush()
    sys.stdout.flush()
