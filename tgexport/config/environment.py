"""Configuration from the environment and the `.env` file in the app's home folder.

The home folder holds `.env` and the app logs (`logs/`): beside `telegram_parser_skill.py` for the
script (the contract), the current directory for the installed `tg-channel-parser` command."""
from __future__ import annotations

import io
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from dotenv import load_dotenv

from errors import ConfigError

SCRIPT_DIR = Path(__file__).resolve().parents[2]
_home: list[Path] = [SCRIPT_DIR]

ENV_FILE_ENV = "TELEGRAM_PARSER_ENV_FILE"
LOG_DIR_ENV = "TELEGRAM_PARSER_LOG_DIR"
OUTPUT_DIR_ENV = "TELEGRAM_PARSER_OUTPUT_DIR"
REQUIRE_LOCAL_ENV = "TELEGRAM_PARSER_REQUIRE_LOCAL_SERVER"
DEFAULT_OUTPUT_DIR = "./out"
DEFAULT_SESSION = "telegram_session"


def set_home(folder: Path) -> None:
    """Make `folder` the home of `.env` and `logs/` (the installed command passes the current directory)."""
    _home[0] = folder


def home() -> Path:
    """Where `.env` and `logs/` live: beside the script unless `set_home` said otherwise."""
    return _home[0]


def env_file_path() -> Path:
    """The `.env` file to load: `TELEGRAM_PARSER_ENV_FILE`, else `.env` in the home folder."""
    raw = os.environ.get(ENV_FILE_ENV, "").strip()
    return Path(raw) if raw else home() / ".env"


class _Collect(logging.Handler):
    """Keeps the records python-dotenv logs while a `.env` file is parsed."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@dataclass(frozen=True)
class EnvFile:
    """A loaded `.env` file and python-dotenv's warnings about it (logged once app logs exist)."""

    path: Path
    warnings: tuple[str, ...] = ()

    def log_warnings(self, logger: logging.Logger) -> None:
        """Write the parse warnings (e.g. lines that are not NAME=value) to `logger`."""
        for message in self.warnings:
            logger.warning("%s: %s", self.path, message)


def _read_env_text(path: Path) -> str | None:
    """The text of `path` (UTF-8, optional BOM); None when it does not exist; ConfigError otherwise."""
    try:
        return path.read_bytes().decode("utf-8-sig")
    except (FileNotFoundError, NotADirectoryError):
        return None
    except UnicodeDecodeError as exc:
        bad = exc.object[exc.start:exc.start + 1].hex()
        raise ConfigError(f"cannot read {path}: not UTF-8 text (byte 0x{bad} at offset {exc.start})") from exc
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"cannot read {path}: {reason}") from exc


def load_env_file() -> EnvFile | None:
    """Load the `.env` file into os.environ without overriding real variables.

    Returns None when there is no such file. ConfigError (os.environ untouched) when it exists
    but cannot be read or decoded, e.g. a directory, no read permission or bytes that are not UTF-8.
    Parse warnings are returned instead of going to stderr, since app logging is not set up yet.
    """
    path = env_file_path()
    text = _read_env_text(path)
    if text is None:
        return None
    dotenv_log = logging.getLogger("dotenv.main")
    collector, propagate = _Collect(), dotenv_log.propagate
    dotenv_log.addHandler(collector)
    dotenv_log.propagate = False
    try:
        load_dotenv(stream=io.StringIO(text), override=False)
    finally:
        dotenv_log.removeHandler(collector)
        dotenv_log.propagate = propagate
    return EnvFile(path, tuple(collector.messages))


def env_number(name: str, default: float | None, *, positive: bool = False) -> float | None:
    """A number from the environment; `default` when unset, not a number, negative, or 0 with `positive`."""
    raw = os.environ.get(name, "").strip()
    try:
        value = float(raw) if raw else None
    except ValueError:
        value = None
    if value is None or value < 0 or (positive and value == 0):
        return default
    return value


def log_dir() -> Path:
    """App-log folder: `TELEGRAM_PARSER_LOG_DIR`, else `logs/` in the home folder."""
    raw = os.environ.get(LOG_DIR_ENV, "").strip()
    return Path(raw).expanduser() if raw else home() / "logs"


def default_output_dir() -> str:
    """Default `--output-dir`: `TELEGRAM_PARSER_OUTPUT_DIR`, else `./out`."""
    return os.environ.get(OUTPUT_DIR_ENV, "").strip() or DEFAULT_OUTPUT_DIR


def require_local_server() -> bool:
    """True when `TELEGRAM_PARSER_REQUIRE_LOCAL_SERVER` is set to a true value (tests set it)."""
    return os.environ.get(REQUIRE_LOCAL_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def _optional(*names: str) -> str | None:
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


@dataclass(frozen=True)
class Credentials:
    """Sign-in inputs; never logged (see `__repr__`)."""

    phone: str | None = None
    code: str | None = None
    password: str | None = None

    @classmethod
    def from_env(cls) -> Credentials:
        """TELEGRAM_PHONE, TELEGRAM_CODE (alias TELEGRAM_LOGIN_CODE), TELEGRAM_2FA_PASSWORD."""
        password = os.environ.get("TELEGRAM_2FA_PASSWORD") or None
        return cls(
            phone=_optional("TELEGRAM_PHONE"),
            code=_optional("TELEGRAM_CODE", "TELEGRAM_LOGIN_CODE"),
            password=password,
        )

    def __repr__(self) -> str:
        flags = ", ".join(f"{k}={'set' if getattr(self, k) else 'unset'}" for k in ("phone", "code", "password"))
        return f"Credentials({flags})"


@dataclass(frozen=True)
class Config:
    """Everything the CLI needs from the environment."""

    api_id: int
    api_hash: str
    credentials: Credentials
    log_dir: Path

    def __repr__(self) -> str:
        return f"Config(api_id={self.api_id}, api_hash=<hidden>, log_dir={self.log_dir})"


def load_api_credentials() -> tuple[int, str]:
    """TELEGRAM_API_ID (integer) and TELEGRAM_API_HASH; ConfigError when missing or malformed."""
    raw_id = os.environ.get("TELEGRAM_API_ID", "").strip()
    api_hash = os.environ.get("TELEGRAM_API_HASH", "").strip()
    missing = [n for n, v in (("TELEGRAM_API_ID", raw_id), ("TELEGRAM_API_HASH", api_hash)) if not v]
    if missing:
        raise ConfigError(
            f"{' and '.join(missing)} not set: put them in the environment or in .env "
            "(get them at https://my.telegram.org)",
            hint="get api_id and api_hash at https://my.telegram.org (API development tools) and set "
                 "TELEGRAM_API_ID and TELEGRAM_API_HASH in the environment or in .env",
        )
    if not raw_id.isdigit():
        raise ConfigError("TELEGRAM_API_ID must be a positive integer")
    return int(raw_id), api_hash


def load_config() -> Config:
    """Read the configuration after `load_env_file()`; ConfigError when API id/hash are missing."""
    api_id, api_hash = load_api_credentials()
    return Config(api_id=api_id, api_hash=api_hash, credentials=Credentials.from_env(), log_dir=log_dir())
