"""What the CLI prints: the result as UTF-8 JSON on stdout, and one `Error:` line on stderr per failure."""
from __future__ import annotations

import json
import logging
import sys
from typing import Any

from errors import ParserError, one_line
from tgexport.core.atomic_json import dump_json_text
from tgexport.store.layout import write_result

log = logging.getLogger("telegram_parser_skill")


def fail(exc: ParserError, cause: BaseException | None = None) -> int:
    """Log the error with its code (and `cause`'s traceback), print one `Error:` line, return the exit code."""
    log.error(one_line(exc.log_message), exc_info=cause, extra={"error_code": exc.code})
    print(f"Error: {one_line(exc.message)}", file=sys.stderr, flush=True)
    return exc.exit_code


def utf8_stdio() -> None:
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(encoding="utf-8")


def emit(result: Any) -> None:
    """Print the command's result as UTF-8 JSON on stdout (messages streamed from their encoded bytes)."""
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # a text-only stdout (e.g. replaced by a caller)
        sys.stdout.write(dump_json_text(result))
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
