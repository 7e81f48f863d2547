"""`tg-channel-parser`, the installed command: the same CLI as `telegram_parser_skill.py`, with `.env`
and `logs/` in the current directory (an installed package's own folder is no place for them)."""
from __future__ import annotations

import sys
from pathlib import Path

from tgexport.cli.main import main
from tgexport.config import environment


def console_main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code (as `main`)."""
    environment.set_home(Path.cwd())
    return main(argv if argv is not None else sys.argv[1:])
