#!/usr/bin/env python3
"""Benchmark the FHIR API: a searchset of 20 PractitionerRoles with their includes, in process.

    DATABASE_URL=sqlite:////tmp/bench.sqlite3 python bench/search.py generate   # the same scratch data
    DATABASE_URL=sqlite:////tmp/bench.sqlite3 python bench/fhir_search.py       # 500 searches

Each search is what a directory client sends: `PractitionerRole?location.near=<a random ZIP centroid>|25|[mi_i]`
(or, every other time, `?specialty=<NUCC code>`) with `_count=20` and `_include` of the practitioner,
location, organization and healthcare service, timed from the query string to the JSON bytes of the Bundle
(referral.fhir.search.search_bundle + the renderer's json.dumps), without HTTP. Searches whose radius holds
fewer than 20 roles return fewer; the figures count only full pages of 20, overall and per kind of search.
`--freeze-gc` moves the objects alive after the warm-up out of the garbage collector's reach (gc.freeze(), as a
server may do once the app is loaded): otherwise about one search in 25 pays a full collection of everything
Django loaded (tens of milliseconds), whatever the search code does.

The digest covers every Bundle (total, links and entries; not the Bundle's own timestamp): two versions of the code
give the same digest on the same database only if they give the same answers.
"""

import argparse
import gc
import hashlib
import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DJANGO_DEBUG", "0")  # as in production: no query log
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.http import QueryDict  # noqa: E402

from directory.models import Specialist, ZipCode  # noqa: E402
from referral.fhir import terminology  # noqa: E402
from referral.fhir.search import search_bundle  # noqa: E402

INCLUDES = ["practitioner", "location", "organization", "service"]


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def query(rng, origins) -> tuple[str, QueryDict]:
    params = QueryDict(mutable=True)
    if rng.random() < 0.5:
        origin = rng.choice(origins)
        params["location.near"] = f"{origin.latitude}|{origin.longitude}|25|[mi_i]"
        kind = "location.near"
    else:
        code = rng.choice([code for code, _display in terminology.NUCC_TAXONOMY.values()])
        params["specialty"] = f"{terminology.NUCC_SYSTEM}|{code}"
        kind = "specialty"
    params["_count"] = "20"
    params.setlist("_include", [f"PractitionerRole:{name}" for name in INCLUDES])
    return kind, params


def report(label, wall, cpu) -> None:
    print(
        f"  {label:<14} wall p50 {percentile(wall, 0.5):6.2f}  p95 {percentile(wall, 0.95):6.2f}"
        f"  max {max(wall):7.2f} ms | CPU p50 {percentile(cpu, 0.5):6.2f}  p95 {percentile(cpu, 0.95):6.2f}"
        f"  max {max(cpu):7.2f} ms"
        f"  ({len(wall)} pages)"
    )


def run(searches: int, seed: int, freeze_gc: bool = False) -> None:
    rng = random.Random(seed)
    # Origins where practices are: the ZIPs of published practices (the generator spreads them by population).
    codes = list(Specialist.objects.published().values_list("practices__zip_code", flat=True).distinct()[:5000])
    origins = list(ZipCode.objects.filter(code__in=codes))
    print(
        f"{Specialist.objects.published().count()} published, {Specialist.objects.filter(is_published=False).count()} "
        f"unpublished specialists; database: {connection.vendor}",
        file=sys.stderr,
    )
    base = "http://127.0.0.1:8000/fhir/"
    json.dumps(search_bundle("PractitionerRole", query(random.Random(seed + 1), origins)[1], base=base))  # warm up
    if freeze_gc:
        gc.collect()
        gc.freeze()
    full, partial, sizes, cpu = [], [], [], []
    by_kind = {"location.near": ([], []), "specialty": ([], [])}
    digest = hashlib.sha256()
    for _ in range(searches):
        kind, params = query(rng, origins)
        started, cpu_started = time.perf_counter(), time.process_time()
        bundle = search_bundle("PractitionerRole", params, base=base)
        body = json.dumps(bundle, ensure_ascii=False, separators=(",", ":")).encode()
        elapsed = (time.perf_counter() - started) * 1000
        cpu_ms = (time.process_time() - cpu_started) * 1000
        matches = sum(1 for entry in bundle["entry"] if entry["search"]["mode"] == "match")
        (full if matches == 20 else partial).append(elapsed)
        if matches == 20:
            sizes.append((len(bundle["entry"]), len(body)))
            cpu.append(cpu_ms)
            by_kind[kind][0].append(elapsed)
            by_kind[kind][1].append(cpu_ms)
        answer = {key: value for key, value in bundle.items() if key != "meta"}
        digest.update(json.dumps(answer, sort_keys=True).encode())
    frozen = ", garbage collector frozen after the warm-up" if freeze_gc else ""
    print(f"FHIR PractitionerRole searchset, _count=20 with 4 _includes: {searches} searches{frozen}")
    if full:
        entries = sum(size[0] for size in sizes) / len(sizes)
        kilobytes = sum(size[1] for size in sizes) / len(sizes) / 1024
        print(f"  full pages of 20: {len(full)} ({entries:.0f} entries, {kilobytes:.0f} KiB on average)")
        report("all", full, cpu)
        for kind, (wall, kind_cpu) in by_kind.items():
            if wall:
                report(kind, wall, kind_cpu)
        print("  (CPU: this process only; SQLite runs in it, the PostgreSQL server does not)")
    if partial:
        print(f"  shorter pages: {len(partial)}, p95 {percentile(partial, 0.95):.2f} ms")
    print(f"  results digest: {digest.hexdigest()[:16]}")
    started = time.perf_counter()
    sum(range(10**7))
    print(f"  machine load: sum(range(10**7)) took {time.perf_counter() - started:.2f} s (about 0.2 s on an idle core)")
    print(f"  load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--searches", type=int, default=500)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--freeze-gc", action="store_true", help="gc.freeze() after the warm-up")
    args = parser.parse_args()
    run(args.searches, args.seed, args.freeze_gc)
