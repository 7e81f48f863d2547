"""CLI: `python telegram_parser_skill.py channels|resolve|parse [options]` (docs/contract.md).

The command line lives in `tgexport/cli/` (options and checks in `args.py`, the run in `main.py`,
stdout and stderr in `output.py`); this script is its entry point. For scripts of the original tool
it keeps `build_parser()` (the argparse parser) and `run(args, run_id)` (one command, in-process:
`asyncio.run(run(build_parser().parse_args([...])))` returns what the CLI would print).
"""
from __future__ import annotations

import sys

from tgexport.cli.args import build_parser, validate_args
from tgexport.cli.compat import run
from tgexport.cli.main import main, run_command

__all__ = ["build_parser", "main", "run", "run_command", "validate_args"]

if __name__ == "__main__":
    sys.exit(main())
