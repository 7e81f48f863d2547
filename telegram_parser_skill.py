"""CLI: `python telegram_parser_skill.py channels|resolve|parse [options]` (docs/contract.md).

The command line lives in `tgexport/cli/` (options and checks in `args.py`, the run in `main.py`,
stdout and stderr in `output.py`); this script is its entry point.
"""
from __future__ import annotations

import sys

from tgexport.cli.args import build_parser, validate_args
from tgexport.cli.main import main, run_command

__all__ = ["build_parser", "main", "run_command", "validate_args"]

if __name__ == "__main__":
    sys.exit(main())
