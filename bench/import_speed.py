"""Time the CMS / NPPES importers against a bare csv.reader pass over the same file, and measure peak memory.

    DATABASE_URL=sqlite:////tmp/bench.sqlite3 python bench/import_speed.py cms bench/data/MUP_PHY_…_D24_Prov_Svc.csv
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sij_bench python bench/import_speed.py nppes bench/data/npidata….csv

The database must be migrated already. Each measurement runs in its own process, which reports its own peak
resident memory (ru_maxrss), so one run's memory never hides another's. The importer runs twice: into the
database as it is (creating review-queue stubs), then again (the re-import / weekly-update path); --once
stops after the first.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BARE = """
import csv, json, resource, sys, time
started = time.perf_counter()
with open(sys.argv[1], encoding="utf-8", newline="") as handle:
    rows = sum(1 for _ in csv.reader(handle)) - 1
print(json.dumps({"rows": rows, "seconds": time.perf_counter() - started, "cpu": time.process_time(),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

IMPORT = """
import json, os, resource, sys, time
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()
kind, path = sys.argv[1], sys.argv[2]
if kind == "cms":
    from directory.importers.cms import import_cms as run
else:
    from directory.importers.nppes import import_nppes as run
started, cpu = time.perf_counter(), time.process_time()
result = run(path, progress=False)
print(json.dumps({"rows": result.rows_read, "seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "summary": result.summary()}))
"""


def measure(script: str, *args: str) -> dict:
    # As in production: DEBUG off (with DEBUG on, Django keeps and formats every query of the bulk writes).
    env = {**os.environ, "DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY", "bench-only")}
    done = subprocess.run(
        [sys.executable, "-c", script, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode:
        sys.exit(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(kind: str, path: str, *, once: bool = False) -> None:
    size_mb = Path(path).stat().st_size / 1e6
    database = os.environ.get("DATABASE_URL", "sqlite (db.sqlite3)").split("@")[-1]
    print(f"{kind} file {Path(path).name}: {size_mb:,.0f} MB; database {database}")
    bare = measure(BARE, path)
    bare_rate = bare["rows"] / bare["seconds"]
    print(
        f"  bare csv.reader: {bare['rows']:,} rows in {bare['seconds']:.1f} s = {bare_rate:,.0f} rows/s, "
        f"({bare['cpu']:.1f} s CPU), peak {bare['peak_mb']:.0f} MB"
    )
    for label in ("first import", "re-import")[: 1 if once else 2]:
        run = measure(IMPORT, kind, path)
        rate = run["rows"] / run["seconds"]
        print(
            f"  {label}: {run['rows']:,} rows in {run['seconds']:.1f} s = {rate:,.0f} rows/s "
            f"({rate / bare_rate:.0%} of bare; {run['cpu']:.1f} s CPU in this process), peak {run['peak_mb']:.0f} MB"
        )
        for line in run["summary"]:
            print(f"    {line}")


if __name__ == "__main__":
    arguments = [arg for arg in sys.argv[1:] if arg != "--once"]
    if len(arguments) != 2 or arguments[0] not in ("cms", "nppes"):
        sys.exit(__doc__)
    main(*arguments, once="--once" in sys.argv)
