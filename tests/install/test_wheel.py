"""The package installs as a command: the wheel built from pyproject.toml goes into a fresh virtual
environment (system site-packages for Telethon and the other pinned dependencies: no index is
used) and `tg-channel-parser` runs `--help` and a parse against the local server, with `.env`,
`logs/`, the session and `out/` all in the current directory."""
from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

from testkit.cli import DUMMY_API_HASH, DUMMY_API_ID, REPO_ROOT, cli_env, json_error
from testkit.server import make_session

PACKAGED = ("pyproject.toml", "README.md", "errors.py", "exit_codes.py", "session_lock.py", "telegram_parser.py",
            "telegram_parser_skill.py")


def _build_wheel(workdir: Path) -> Path:
    """Build from a copy of the packaged files (the build writes build/ and *.egg-info beside them)."""
    source = workdir / "src"
    source.mkdir()
    for name in PACKAGED:
        shutil.copy2(REPO_ROOT / name, source / name)
    shutil.copytree(REPO_ROOT / "tgexport", source / "tgexport", ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-build-isolation", "--no-deps",
                            "--no-index", "-w", str(workdir / "dist"), str(source)],
                           capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, f"pip wheel failed (setuptools from requirements-dev.txt?):\n{built.stderr}"
    (wheel,) = (workdir / "dist").glob("tg_channel_parser-*.whl")
    return wheel


def _install(wheel: Path, env_dir: Path) -> Path:
    """A fresh venv seeing the system site-packages, the wheel installed into it; returns its bin dir.

    When the tests themselves run in a virtual environment, its site-packages (where the pinned
    dependencies are) is added through a .pth file: `--system-site-packages` only reaches the base."""
    venv.create(env_dir, system_site_packages=True, with_pip=False)
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    if sys.prefix != sys.base_prefix:
        purelib = subprocess.run([str(bin_dir / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                 check=True, capture_output=True, text=True).stdout.strip()
        Path(purelib, "outer-venv.pth").write_text("\n".join(site.getsitepackages()) + "\n", encoding="utf-8")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(bin_dir / "python"), "install", "-q", "--no-deps",
                    "--no-index", str(wheel)], check=True, capture_output=True, timeout=120)
    return bin_dir


# One worker builds the wheel once for the whole module; it goes first (slow).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("wheel")]


@pytest.fixture(scope="module")
def command(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("wheel")
    return _install(_build_wheel(workdir), workdir / "venv") / "tg-channel-parser"


def _run(command: Path, args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in env.items() if k != "PYTHONPATH"}  # only what the venv installed
    return subprocess.run([str(command), *args], cwd=cwd, env=clean, capture_output=True, text=True,
                          encoding="utf-8", timeout=120)


def test_the_command_is_the_installed_package(command: Path, tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    shown = _run(command, ["--help"], tmp_path, env)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("usage: tg-channel-parser") and "--lock-wait" in shown.stdout
    where = subprocess.run([str(command.parent / "python"), "-c", "import tgexport; print(tgexport.__file__)"],
                           cwd=tmp_path, env={k: v for k, v in env.items() if k != "PYTHONPATH"},
                           capture_output=True, text=True, check=True)
    assert str(REPO_ROOT) not in where.stdout and "site-packages" in where.stdout


def test_parse_with_env_logs_and_session_in_the_current_directory(command: Path, demo_server, tmp_path: Path) -> None:
    make_session(demo_server, tmp_path / "telegram_session.session")  # the default --session-file
    (tmp_path / ".env").write_text(f"TELEGRAM_API_ID={DUMMY_API_ID}\nTELEGRAM_API_HASH={DUMMY_API_HASH}\n")
    env = cli_env(tmp_path, TELEGRAM_API_ID=None, TELEGRAM_API_HASH=None, TELEGRAM_PARSER_LOG_DIR=None,
                  TELEGRAM_PARSER_ENV_FILE=None)
    done = _run(command, ["parse", "--channel", "@demo_channel"], tmp_path, env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert Path(result["export_dir"]).parent == tmp_path / "out" and result["summary"]["new_messages"] > 0
    assert "command parse started" in (tmp_path / "logs" / "app.log").read_text(encoding="utf-8")
    assert not (tmp_path / "telegram_session.session.lock").exists()


def test_errors_are_json_there_too(command: Path, tmp_path: Path) -> None:
    env = cli_env(tmp_path, TELEGRAM_API_ID=None, TELEGRAM_PARSER_LOG_DIR=None, TELEGRAM_PARSER_ENV_FILE=None)
    done = _run(command, ["channels"], tmp_path, env)
    assert done.returncode == 1
    assert json_error(done, "CONFIG_ERROR")["message"].startswith("TELEGRAM_API_ID not set")
    assert "error_code=CONFIG_ERROR" in (tmp_path / "logs" / "errors.log").read_text(encoding="utf-8")


def test_pyproject_pins_are_requirements_txt() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lines = (REPO_ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    pins = {ln.split("#")[0].strip() for ln in lines if ln.split("#")[0].strip()}
    assert set(project["dependencies"]) == pins
    assert project["scripts"] == {"tg-channel-parser": "tgexport.cli.command:console_main"}
