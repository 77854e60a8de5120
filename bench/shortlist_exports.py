#!/usr/bin/env python3
"""Time the three shortlist exports (CSV, PDF, FHIR) of a 50-item list, queries included.

    DATABASE_URL=sqlite:////tmp/bench-exports.sqlite3 python bench/shortlist_exports.py

Migrates the (scratch!) database, loads the demo directory if it is empty, builds one shortlist of the 50
published specialists nearest ZIP 60611 for a bench user, then renders each export REPEAT times and prints
the median and worst wall time and the median CPU time (which a busy machine does not inflate).
Never point it at a database you care about.
"""

import io
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DJANGO_DEBUG", "1")

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402

from directory.models import Specialist, ZipCode  # noqa: E402
from referral.matching import find_specialists  # noqa: E402
from shortlists.exports import export_items  # noqa: E402
from shortlists.exports.csv import write_shortlist_csv  # noqa: E402
from shortlists.exports.fhir import write_shortlist_fhir  # noqa: E402
from shortlists.exports.pdf import write_shortlist_pdf  # noqa: E402
from shortlists.models import Shortlist  # noqa: E402

ITEMS = 50
REPEAT = 10
WRITERS = {
    "CSV": (write_shortlist_csv, io.StringIO),
    "PDF": (write_shortlist_pdf, io.BytesIO),
    "FHIR": (write_shortlist_fhir, io.StringIO),
}


def build_shortlist() -> Shortlist:
    call_command("migrate", verbosity=0)
    if not Specialist.objects.published().exists():
        call_command("setup_demo", verbosity=0)
    user, _ = User.objects.get_or_create(username="bench-exports")
    Shortlist.objects.filter(owner=user).delete()
    shortlist = Shortlist.objects.create(
        owner=user, title="Bench: 50 specialists", origin_zip="60611", radius_miles=500
    )
    result = find_specialists(origin=ZipCode.objects.get(code="60611"), radius_miles=3000, page_size=ITEMS)
    for match in result.matches[:ITEMS]:
        shortlist.add(match.specialist, note="Call the office first; ask about the wait for a new-patient visit.")
    return shortlist


def main():
    shortlist = build_shortlist()
    print(f"{shortlist.items.count()} items")
    for name, (write, buffer) in WRITERS.items():
        timings, cpu, size = [], [], 0
        for _ in range(REPEAT):
            started, started_cpu = time.perf_counter(), time.process_time()
            out = buffer()
            write(shortlist, export_items(shortlist), out)  # the query is part of every export
            timings.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
            size = len(out.getvalue())
        median, worst, median_cpu = (statistics.median(timings), max(timings), statistics.median(cpu))
        print(f"{name:5} wall median {median * 1000:5.0f} ms, worst {worst * 1000:5.0f} ms; ", end="")
        print(f"CPU median {median_cpu * 1000:5.0f} ms; {size:,} bytes")


if __name__ == "__main__":
    main()
