"""Configuration from the environment and the `.env` file next to the CLI script."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dotenv import load_dotenv

from errors import ConfigError

SCRIPT_DIR = Path(__file__).resolve().parents[1]

ENV_FILE_ENV = "TELEGRAM_PARSER_ENV_FILE"
LOG_DIR_ENV = "TELEGRAM_PARSER_LOG_DIR"
OUTPUT_DIR_ENV = "TELEGRAM_PARSER_OUTPUT_DIR"
REQUIRE_LOCAL_ENV = "TELEGRAM_PARSER_REQUIRE_LOCAL_SERVER"
DEFAULT_OUTPUT_DIR = "./out"
DEFAULT_SESSION = "telegram_session"


def env_file_path() -> Path:
    """The `.env` file to load: `TELEGRAM_PARSER_ENV_FILE`, else `.env` beside the script."""
    raw = os.environ.get(ENV_FILE_ENV, "").strip()
    return Path(raw) if raw else SCRIPT_DIR / ".env"


def load_env_file() -> Path | None:
    """Load the `.env` file into os.environ without overriding real variables; return it if loaded."""
    path = env_file_path()
    if not path.is_file():
        return None
    load_dotenv(path, override=False, encoding="utf-8")
    return path


def log_dir() -> Path:
    """App-log folder: `TELEGRAM_PARSER_LOG_DIR`, else `logs/` beside the script."""
    raw = os.environ.get(LOG_DIR_ENV, "").strip()
    return Path(raw).expanduser() if raw else SCRIPT_DIR / "logs"


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
            "(get them at https://my.telegram.org)"
        )
    if not raw_id.isdigit():
        raise ConfigError("TELEGRAM_API_ID must be a positive integer")
    return int(raw_id), api_hash


def load_config() -> Config:
    """Read the configuration after `load_env_file()`; ConfigError when API id/hash are missing."""
    api_id, api_hash = load_api_credentials()
    return Config(api_id=api_id, api_hash=api_hash, credentials=Credentials.from_env(), log_dir=log_dir())
