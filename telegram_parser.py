"""The contract's Python API: `TelegramParser` (connect, sign-in, channels, resolve, parse).

The implementation lives in `tgexport/run/parser.py`; this module keeps the name scripts import.
"""
from __future__ import annotations

from tgexport.run.parser import TelegramParser

__all__ = ["TelegramParser"]
