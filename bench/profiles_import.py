"""Time the profiles CSV import on a generated file, into a fresh temporary database.

    python bench/profiles_import.py                     # 10,000 rows, temporary SQLite file
    python bench/profiles_import.py --rows 2000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python bench/profiles_import.py
        # PostgreSQL: a database named sij_bench_profiles_<pid> is created on that server and dropped after
        # (--database-name names it otherwise)

Prints rows/s for the first import (every row created) and for a re-import of the same file (every row
unchanged), and how much of the CPU time went to refreshing the search index of the specialists the import
touched (the receivers of directory.models.specialists_changed, run once at the end of the import). The
generated file is deterministic (seeded) and clearly fictional ("Demo" practices, 555-01xx phones).

--digest then imports a changed copy of the file (a dry run, then twice for real, by a user) and prints a hash
of every report line and of every profile and history row after each import: two versions of the importer that
print the same digests wrote the same rows, history and reports (untimed; ids included, times left out).
"""

import argparse
import csv
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FIRST_NAMES = ["Avery", "Blake", "Casey", "Devon", "Emery", "Finley", "Harper", "Jordan", "Kendall", "Logan", "Morgan"]
LAST_NAMES = ["Abara", "Brandt", "Castillo", "Dubois", "Eriksen", "Fujita", "Gallo", "Haddad", "Ivanova", "Jensen"]
COURSES = ["MIS SI-joint fusion course", "SI-joint injection workshop", "Cadaver lab: SI fusion", "RF ablation course"]


def write_profiles_file(path: Path, rows: int, zip_codes: list, seed: int = 2025) -> None:
    """Write `rows` fictional specialists, about three per practice, in the profiles CSV format."""
    from directory.importers.profiles import COLUMNS, SERVICE_COLUMNS
    from directory.models import Specialty, npi_check_digit

    rng = random.Random(seed)
    specialties = [choice.value for choice in Specialty]
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS)
        writer.writeheader()
        for n in range(rows):
            first_nine = f"{200000000 + n:09d}"
            practice = n // 3
            zip_code = zip_codes[practice % len(zip_codes)]
            row = {
                "npi": first_nine + str(npi_check_digit(first_nine)),
                "first_name": rng.choice(FIRST_NAMES),
                "last_name": f"{rng.choice(LAST_NAMES)}-{n}",
                "credentials": rng.choice(["MD", "DO", "MD, PhD"]),
                "specialty": rng.choice(specialties),
                "practice_name": f"Demo Spine Practice {practice}",
                "address_line1": f"{100 + practice} Demo Avenue",
                "zip": zip_code,
                "phone": f"312-555-01{practice % 100:02d}",  # 555-01xx: fictional, and a valid number
                "accepting_new_patients": rng.choice(["yes", "no"]),
                "telehealth": rng.choice(["yes", "no"]),
                "languages": rng.choice(["English", "English; Spanish", "English; Mandarin"]),
                "si_training": "; ".join(f"{c} ({rng.randint(2015, 2025)})" for c in rng.sample(COURSES, 2)),
                "mis_si_fusion_count": rng.randint(0, 60),
                "si_injection_count": rng.randint(0, 300),
                "rf_ablation_count": rng.choice(["", rng.randint(0, 80)]),
                "volume_period_start": "2025-01-01",
                "volume_period_end": "2025-12-31",
                "volume_source": "self_reported",
                "verified": rng.choice(["yes", "no"]),
                "published": "yes",
            }
            row.update({column: rng.choice(["yes", "no"]) for column in SERVICE_COLUMNS})
            writer.writerow(row)


def write_changed_file(source: Path, path: Path) -> None:
    """Write a copy of the generated file with every kind of change a curator makes, and bad rows among them."""
    from directory.models import npi_check_digit

    with source.open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    for n, row in enumerate(rows):
        changes = {
            5: {"insurance": "medicare; aetna", "insurance_confirmed": "2025-06-01"},
            7: {"mis_si_fusion_count": str(int(row["mis_si_fusion_count"]) + 1)},
            11: {"si_training": f"{COURSES[n % 4]} (2024); {COURSES[(n + 1) % 4]}"},
            13: {"si_training": "(clear)"},
            17: {"rf_ablation_count": "(clear)", "si_injection_count": "(clear)"},
            19: {"phone": "312-555-0199"},
            23: {"practice_name": f"Demo New Practice {n // 50}", "address_line1": f"{n // 50} New Street"},
            29: {"address_line2": "Suite 2"},
            31: {"first_name": "Quinn", "credentials": "DO"},
            37: {"verified": "no" if row["verified"] == "yes" else "yes"},
            41: {"zip": "00000"},
            43: {"website": "ftp://demo.example/"},
            47: {"specialty": "(clear)"},
            53: {"languages": "(clear)", "telehealth": "maybe"},
            59: {"insurance": "bogus plan", "insurance_confirmed": "2025-06-01"},
            61: {"npi": rows[n - 1]["npi"]},
            67: {"npi": f"{300000000 + n:09d}", "first_name": "New"},
            71: {"volume_period_start": "2024-01-01", "volume_period_end": "2024-12-31", "volume_source": "registry"},
            73: {"published": "no", "accepting_new_patients": "(clear)"},
        }
        for every, change in changes.items():
            if n % every == 0:
                row.update(change)
        if n % 67 == 0:  # a new, valid NPI
            row["npi"] = row["npi"] + str(npi_check_digit(row["npi"]))
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=rows[0].keys())
        writer.writeheader()
        writer.writerows(rows)


def digest(result) -> str:
    """Hash the import's report lines and every row of the profile tables and their history, without times and
    history ids (which differ from run to run by design)."""
    import hashlib

    from django.apps import apps
    from django.db import models

    tables = ["Specialist", "Practice", "Affiliation", "Training", "ProcedureVolume", "Practice_insurance"]
    tables += [f"Historical{name}" for name in tables if name != "Affiliation"]
    hashed = hashlib.sha256("\n".join(result.report_lines()).encode())
    for name in tables:
        model = apps.get_model("directory", name)
        times = {f.attname for f in model._meta.concrete_fields if isinstance(f, models.DateTimeField)}
        values = [
            sorted((key, value is not None if key in times else value) for key, value in row.items())
            for row in model.objects.values(*[f.attname for f in model._meta.concrete_fields if f.name != "history_id"])
        ]
        hashed.update(repr((name, sorted(map(repr, values)))).encode())
    return hashed.hexdigest()[:16]


def timed_import(path: Path, **options) -> tuple[float, float, float, int, object]:
    """Import the file; return wall seconds, this process's CPU seconds (SQLite runs in-process), the CPU seconds
    of those that went to the end-of-import search index refresh, the number of queries and the result."""
    from django.db import connection

    from directory.importers.profiles import import_profiles
    from directory.models import specialists_changed

    queries = 0
    refresh = 0.0
    announce = specialists_changed.send

    def timed_announce(*args, **kwargs):  # the import announces its specialists once; the index refreshes then
        nonlocal refresh
        cpu_started = time.process_time()
        try:
            return announce(*args, **kwargs)
        finally:
            refresh += time.process_time() - cpu_started

    def count(execute, sql, params, many, context):
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    specialists_changed.send = timed_announce  # this one signal object only, for this run
    started, cpu_started = time.perf_counter(), time.process_time()
    try:
        with path.open(encoding="utf-8", newline="") as file, connection.execute_wrapper(count):
            result = import_profiles(file, **options)
    finally:
        del specialists_changed.send  # the class's method again
    return time.perf_counter() - started, time.process_time() - cpu_started, refresh, queries, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--database-name", help="PostgreSQL: the scratch database to create (and drop after)")
    parser.add_argument(
        "--reimports", type=int, default=1, help="re-import the file this many times (a loaded machine: take the best)"
    )
    parser.add_argument("--digest", action="store_true", help="then import a changed file and print digests")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="sij-bench-profiles-"))
    server_url = os.environ.get("DATABASE_URL", "")
    bench_db = None
    if server_url.startswith("postgres"):
        import psycopg

        bench_db = args.database_name or f"sij_bench_profiles_{os.getpid()}"
        with psycopg.connect(server_url, autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {bench_db}")
        parts = urlsplit(server_url)
        os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{bench_db}"))
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ["DJANGO_DEBUG"] = "0"  # DEBUG would keep every query in memory and slow the import down
    os.environ.setdefault("DJANGO_SECRET_KEY", "benchmark-only-key")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["DJANGO_LOG_LEVEL"] = "WARNING"

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    try:
        started = time.perf_counter()
        call_command("migrate", verbosity=0)
        print(f"database: {connection.vendor}, migrated with every US ZIP in {time.perf_counter() - started:.1f} s")

        from directory.models import ZipCode

        # Every 10th located ZIP (2,000 or so across the country): the same file on every run and database, and
        # no row rejected for a ZIP no one can be placed at.
        placeable = [z.code for z in ZipCode.objects.located().order_by("code") if not z.location_problem]
        zip_codes = placeable[::10][:2000]
        path = workdir / "profiles.csv"
        write_profiles_file(path, args.rows, zip_codes)
        print(f"file: {args.rows:,} rows, {path.stat().st_size / 1e6:.1f} MB")

        for label in ("first import", *["re-import   "] * args.reimports):
            seconds, cpu, refresh, queries, result = timed_import(path)
            print(
                f"{label} ({result.summary()}): wall {seconds:.1f} s = {args.rows / seconds:,.0f} rows/s; "
                f"CPU {cpu:.1f} s = {args.rows / cpu:,.0f} rows/s, of which the index refresh {refresh:.1f} s "
                f"(the import's own work {args.rows / (cpu - refresh):,.0f} rows/s); "
                f"{queries / args.rows:.2f} queries per row; load average {os.getloadavg()[0]:.1f}"
            )
            if args.digest and label == "first import":
                print(f"digest after the first import: {digest(result)}")
        if args.digest:
            from django.contrib.auth import get_user_model

            user = get_user_model().objects.create_user("bench-curator")
            changed = workdir / "changed.csv"
            write_changed_file(path, changed)
            for dry_run, label in ((True, "dry run"), (False, "import"), (False, "again")):
                result = timed_import(changed, user=user, dry_run=dry_run)[-1]
                print(f"changed file, {label} ({result.summary()}): digest {digest(result)}")
    finally:
        connection.close()
        if bench_db:
            with psycopg.connect(server_url, autocommit=True) as admin_connection:
                admin_connection.execute(f"DROP DATABASE IF EXISTS {bench_db}")
        shutil.rmtree(workdir, ignore_errors=True)  # the generated file and the SQLite database


if __name__ == "__main__":
    main()
