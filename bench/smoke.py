#!/usr/bin/env python3
"""Run every benchmark at a tiny size, so none rots: CI runs this after the tests (`.ci/run`).

    python bench/smoke.py            # scratch SQLite files in a temporary folder, removed afterwards

It checks that each script still runs to the end and prints its figures; it measures nothing (the sizes are
far too small for the figures to mean anything, and CI never asserts timings). A script that fails fails the
run, with its output.
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

GENERATE_FILES = """
import os, sys
import django
sys.path.insert(0, os.getcwd())
django.setup()
from bench.public_files import generate_cms, generate_nppes
generate_cms(sys.argv[1] + "/" + sys.argv[2], 3000)
generate_nppes(sys.argv[1] + "/nppes.csv", 2000)
"""


def run(label: str, args: list[str], env: dict) -> None:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    print(f"== {label}: exit {done.returncode} in {time.perf_counter() - started:.1f} s")
    if done.returncode:
        print(done.stdout[-4000:], done.stderr[-4000:], sep="\n")
        sys.exit(f"bench smoke: {label} failed")
    print("   " + "\n   ".join(done.stdout.strip().splitlines()[-6:]))


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="sij-bench-smoke-") as scratch:
        base = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "DATABASE_REPLICA_URLS")}
        base.update(DJANGO_SECRET_KEY="bench-smoke-only", DJANGO_SETTINGS_MODULE="config.settings")

        def database(name: str) -> dict:
            return {**base, "DATABASE_URL": f"sqlite:///{scratch}/{name}.sqlite3"}

        # Each script migrates its own scratch database (every US ZIP: the slow part of a smoke run).
        search = database("search")
        run("search: generate", ["bench/search.py", "generate", "--published", "300", "--unpublished", "2000"], search)
        run("search: index digest", ["bench/search.py", "index"], search)
        run("search: run", ["bench/search.py", "run", "--searches", "30", "--naive-sample", "3"], search)
        run("profiles import", ["bench/profiles_import.py", "--rows", "200", "--digest"], base)
        run("shortlist exports", ["bench/shortlist_exports.py"], {**database("exports"), "DJANGO_DEBUG": "1"})

        imports = database("imports")
        cms = "MUP_PHY_R24_P05_V10_D24_Prov_Svc.csv"  # the importer reads the data year from the name
        run("public files", ["-c", GENERATE_FILES, scratch, cms], {**imports, "DJANGO_DEBUG": "1"})
        run("migrate for imports", ["manage.py", "migrate", "--no-input", "-v", "0"], {**imports, "DJANGO_DEBUG": "1"})
        run("CMS import speed", ["bench/import_speed.py", "cms", f"{scratch}/{cms}", "--once"], imports)
        run("NPPES import speed", ["bench/import_speed.py", "nppes", f"{scratch}/nppes.csv", "--once"], imports)
        # gunicorn + wrk on its own scratch PostgreSQL database (HTTP_POSTGRES_URL), 2-second runs.
        run("search over HTTP", ["bench/http_search.py", "--tiny"], base)
    print("bench smoke: every benchmark ran")


if __name__ == "__main__":
    main()
