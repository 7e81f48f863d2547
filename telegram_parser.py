"""The contract's Python API: `TelegramParser` (connect, sign-in, channels, resolve, parse).

The implementation lives in `tgexport/run/parser.py`; this module keeps the names scripts import,
also the original tool's `MODE_PRESETS` (mode name → preset) and `ModeConfig` (the preset's type),
which are today's `tgexport.config.modes.MODES` and `ModePreset`.
"""
from __future__ import annotations

from tgexport.config.modes import MODES as MODE_PRESETS
from tgexport.config.modes import ModePreset as ModeConfig
from tgexport.run.parser import TelegramParser

__all__ = ["MODE_PRESETS", "ModeConfig", "TelegramParser"]
