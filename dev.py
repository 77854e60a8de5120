#!/usr/bin/env python3
"""The two commands of SIJ Finder, on a fresh clone with only Python 3.11:

python3 dev.py run     set up (.venv, packages, database, ZIPs, demo data) and serve on 127.0.0.1:8000
                       --port N (or PORT=N) serves on another port; --reset-demo puts the demo rows back
python3 dev.py test    set up the same way (with test tools) and run the test suite (extra args go to pytest)
python3 dev.py lock    regenerate requirements.lock (exact versions of every package) from pyproject.toml
"""

import argparse
import contextlib
import hashlib
import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
LOCK = ROOT / "requirements.lock"


def venv_python(folder: Path) -> Path:
    return folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_venv(extras: str) -> None:
    """Create .venv and install the project's packages at the versions of requirements.lock, again only when
    pyproject.toml or the lock changed."""
    if not PYTHON.exists():
        print("Creating .venv …", flush=True)
        venv.create(VENV, with_pip=True)
    stamp = VENV / f".installed{extras}"
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + LOCK.read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text() != wanted:
        print(f"Installing packages ({extras or 'runtime'}) …", flush=True)
        subprocess.run([PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
        install = [PYTHON, "-m", "pip", "install", "--quiet", "--constraint", LOCK, "-e", f".{extras}"]
        if subprocess.run(install, cwd=ROOT).returncode != 0:
            sys.exit(
                "Installing from requirements.lock failed. If pyproject.toml gained a package or a version range "
                "the lock does not satisfy, run `python3 dev.py lock` and commit requirements.lock."
            )
        stamp.write_text(wanted)


def lock() -> None:
    """Install the project with [dev] into a fresh virtual environment and write its exact versions."""
    with tempfile.TemporaryDirectory(prefix="sij-lock-") as folder:
        print("Resolving the packages of pyproject.toml in a fresh environment …", flush=True)
        venv.create(folder, with_pip=True)
        python = venv_python(Path(folder))
        subprocess.run([python, "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
        subprocess.run([python, "-m", "pip", "install", "--quiet", f"{ROOT}[dev]"], check=True)
        frozen = subprocess.run(
            [python, "-m", "pip", "freeze", "--exclude", "sij-finder"], check=True, capture_output=True, text=True
        ).stdout
    header = (
        "# Exact versions of every package SIJ Finder installs (runtime and [dev]), used as pip constraints by\n"
        "# dev.py and .ci/run. Regenerate after changing pyproject.toml: python3 dev.py lock\n"
    )
    LOCK.write_text(header + "".join(sorted(frozen.splitlines(keepends=True), key=str.lower)))
    print(f"Wrote {LOCK.name}: {len(frozen.splitlines())} packages.")


def manage(*args: str, env=None) -> None:
    if returncode := subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env).returncode:
        sys.exit(returncode)  # the command said why; no traceback of dev.py on top


def run(args: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python3 dev.py run")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")), help="default 8000 or $PORT")
    parser.add_argument(
        "--reset-demo", action="store_true", help="put the demo rows and demo passwords back (edits to them are lost)"
    )
    options = parser.parse_args(args)
    ensure_venv("")
    env = {**os.environ, "DJANGO_DEBUG": os.environ.get("DJANGO_DEBUG", "1")}
    manage("migrate", "--no-input", env=env)
    manage("setup_demo", *(["--reset"] if options.reset_demo else []), env=env)  # loads only into an empty directory
    print(f"\nSIJ Finder is starting at http://127.0.0.1:{options.port}/ (Ctrl+C stops it)\n", flush=True)
    manage("runserver", f"127.0.0.1:{options.port}", env=env)


def test(pytest_args: list[str]) -> int:
    ensure_venv("[dev]")
    return subprocess.run([PYTHON, "-m", "pytest", *pytest_args], cwd=ROOT).returncode


if __name__ == "__main__":
    command, rest = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("", [])
    if command == "run":
        with contextlib.suppress(KeyboardInterrupt):
            run(rest)
    elif command == "test":
        sys.exit(test(rest))
    elif command == "lock":
        lock()
    else:
        sys.exit(__doc__)
