#!/usr/bin/env python3
"""The two commands of SIJ Finder, on a fresh clone with only Python 3.11:

python3 dev.py run     set up (.venv, packages, database, ZIPs, demo data) and serve on 127.0.0.1:8000
python3 dev.py test    set up the same way (with test tools) and run the test suite (extra args go to pytest)
"""

import contextlib
import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_venv(extras: str) -> None:
    """Create .venv and install the project's packages, again only when pyproject.toml changed."""
    if not PYTHON.exists():
        print("Creating .venv …", flush=True)
        venv.create(VENV, with_pip=True)
    stamp = VENV / f".installed{extras}"
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text() != wanted:
        print(f"Installing packages ({extras or 'runtime'}) …", flush=True)
        subprocess.run([PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
        subprocess.run([PYTHON, "-m", "pip", "install", "--quiet", "-e", f".{extras}"], cwd=ROOT, check=True)
        stamp.write_text(wanted)


def manage(*args: str, env=None) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, check=True, env=env)


def run() -> None:
    ensure_venv("")
    env = {**os.environ, "DJANGO_DEBUG": os.environ.get("DJANGO_DEBUG", "1")}
    manage("migrate", "--no-input", env=env)
    manage("setup_demo", env=env)
    print("\nSIJ Finder is starting at http://127.0.0.1:8000/ (Ctrl+C stops it)\n", flush=True)
    manage("runserver", "127.0.0.1:8000", env=env)


def test(pytest_args: list[str]) -> int:
    ensure_venv("[dev]")
    return subprocess.run([PYTHON, "-m", "pytest", *pytest_args], cwd=ROOT).returncode


if __name__ == "__main__":
    command, rest = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("", [])
    if command == "run":
        with contextlib.suppress(KeyboardInterrupt):
            run()
    elif command == "test":
        sys.exit(test(rest))
    else:
        sys.exit(__doc__)
