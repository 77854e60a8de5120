#!/usr/bin/env python3
"""Benchmark the patient search: find_specialists() against the naive way, on realistic volumes.

    DATABASE_URL=sqlite:////tmp/bench.sqlite3 python bench/search.py generate   # 20k published + 1M unpublished
    DATABASE_URL=sqlite:////tmp/bench.sqlite3 python bench/search.py run        # 1,000 random-ZIP searches
    DATABASE_URL=sqlite:////tmp/bench.sqlite3 python bench/search.py worst      # every ZIP: the slowest ones
    DATABASE_URL=sqlite:////tmp/bench.sqlite3 python bench/search.py index      # a digest of the search index

`generate` migrates the (scratch!) database, then bulk-inserts synthetic specialists spread across the US by
state population (2020 census): published ones with practices, services, procedure counts and trainings, and
unpublished NPPES-like records with a practice each (the realistic bulk a search must skip). `run` times
find_specialists() for random ZIPs with radii of 10–100 miles, times the naive way (every published specialist
loaded with its relations and measured in Python) on a sample of the same searches, checks both return the
same results, and prints p50/p95 and the ratio. Never point it at a database you care about.
"""

import argparse
import datetime
import gc
import hashlib
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# As in production: DEBUG off (with DEBUG on, Django records every query, and on SQLite quotes its parameters
# with an extra query: that overhead is not the search's).
os.environ.setdefault("DJANGO_DEBUG", "0")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import JSONField  # noqa: E402
from django.utils import timezone  # noqa: E402
from tqdm import tqdm  # noqa: E402

from directory import geo  # noqa: E402
from directory.models import (  # noqa: E402
    Affiliation,
    CoordinatesSource,
    Practice,
    Procedure,
    ProcedureVolume,
    RecordSource,
    Service,
    Specialist,
    Specialty,
    Training,
    VolumeSource,
    ZipCode,
)
from referral import ranking  # noqa: E402
from referral.matching import (  # noqa: E402
    BEYOND_LIMIT,
    MIN_RESULTS,
    find_specialists,
    match_specialist,
    nearest_practice,
    profile_queryset,
)

# Resident population by state, 2020 census, in thousands.
STATE_POPULATION = {
    "AL": 5024, "AK": 733, "AZ": 7152, "AR": 3012, "CA": 39538, "CO": 5774, "CT": 3606, "DE": 990, "DC": 690,
    "FL": 21538, "GA": 10712, "HI": 1455, "ID": 1839, "IL": 12813, "IN": 6786, "IA": 3190, "KS": 2938,
    "KY": 4506, "LA": 4658, "ME": 1362, "MD": 6177, "MA": 7030, "MI": 10077, "MN": 5706, "MS": 2961,
    "MO": 6155, "MT": 1084, "NE": 1962, "NV": 3105, "NH": 1378, "NJ": 9289, "NM": 2118, "NY": 20201,
    "NC": 10439, "ND": 779, "OH": 11799, "OK": 3959, "OR": 4237, "PA": 13003, "RI": 1097, "SC": 5118,
    "SD": 887, "TN": 6911, "TX": 29146, "UT": 3272, "VT": 643, "VA": 8631, "WA": 7705, "WV": 1794,
    "WI": 5894, "WY": 577, "PR": 3286,
}  # fmt: skip
FIRST_NAMES = "Ava Ben Carla Dev Elena Farid Grace Hiro Imani Jonas Kira Luis Maya Nils Omar Priya Quinn Rosa Sami Tess"
LAST_NAMES = "Abbott Baker Chen Diaz Evans Fischer Garcia Haddad Ito Jensen Kowalski Lopez Moreau Nguyen Okafor Patel"
BATCH = 5000


class FastInserter:
    """Collect rows as plain tuples (from one template instance) and insert them in one statement per batch:
    COPY on PostgreSQL, executemany on SQLite. For the million-row bulk, where bulk_create's per-object work
    would dominate."""

    def __init__(self, model, **template):
        self.table = model._meta.db_table
        self.fields = model._meta.concrete_fields
        obj = model(**template)
        self.columns = [field.column for field in self.fields]
        self.base = [self.db_value(field, obj) for field in self.fields]
        self.position = {field.attname: index for index, field in enumerate(self.fields)}
        self.rows = []

    @staticmethod
    def db_value(field, obj):
        if isinstance(field, JSONField):
            return json.dumps(getattr(obj, field.attname))
        return field.get_db_prep_save(field.pre_save(obj, add=True), connection)

    def add(self, **values):
        row = list(self.base)
        for name, value in values.items():
            row[self.position[name]] = value
        self.rows.append(row)

    def flush(self):
        columns = ", ".join(connection.ops.quote_name(column) for column in self.columns)
        table = connection.ops.quote_name(self.table)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in self.rows:
                        copy.write_row(row)
            else:
                placeholders = ", ".join(["%s"] * len(self.columns))
                cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", self.rows)
        self.rows = []


def weighted_zips(rng: random.Random) -> tuple[list[list[tuple]], list[float]]:
    """Return the ZIPs of each state (code, city, state, lat, lng) and the states' population weights."""
    by_state: dict[str, list[tuple]] = {}
    for row in ZipCode.objects.located().values_list("code", "city", "state", "latitude", "longitude"):
        by_state.setdefault(row[2], []).append(row)
    states = [state for state in STATE_POPULATION if state in by_state]
    return [by_state[state] for state in states], [STATE_POPULATION[state] for state in states]


def random_zip(rng, zips_by_state, weights):
    return rng.choice(rng.choices(zips_by_state, weights)[0])


def make_practice(rng, pk, zip_row, now):
    code, city, state, latitude, longitude = zip_row
    return Practice(
        pk=pk,
        name=f"Synthetic Spine Clinic {pk}",
        address_line1=f"{rng.randint(1, 9999)} Bench Street",
        city=city,
        state=state,
        zip_code=code,
        phone="555-0100",
        latitude=latitude,
        longitude=longitude,
        coordinates_source=CoordinatesSource.ZIP_CENTROID,
    )


def make_specialist(rng, pk, published, now):
    offers = {service.value: rng.random() < 0.45 for service in Service} if published else {}
    return Specialist(
        pk=pk,
        npi=None,
        first_name=rng.choice(FIRST_NAMES.split()),
        last_name=rng.choice(LAST_NAMES.split()),
        credentials="MD",
        specialty=rng.choice(Specialty.values),
        languages="English; Spanish" if rng.random() < 0.2 else "English",
        accepting_new_patients=rng.random() < 0.8,
        telehealth=rng.random() < 0.3,
        is_published=published,
        verified_at=now - datetime.timedelta(days=rng.randint(0, 1500)) if published and rng.random() < 0.6 else None,
        record_source=RecordSource.DEMO if published else RecordSource.NPPES,
        created_at=now,
        updated_at=now,
        **offers,
    )


def make_volumes(rng, specialist_id, today):
    """A few counts: current calendar-year ones, some stale, some suppressed by CMS."""
    volumes = []
    last_year = today.year - 1
    for procedure in (Procedure.MIS_SI_FUSION, Procedure.OPEN_SI_FUSION, Procedure.SI_INJECTION, Procedure.RF_ABLATION):
        if rng.random() < 0.4:
            continue
        year = last_year if rng.random() < 0.8 else last_year - 3
        source = rng.choice([VolumeSource.SELF_REPORTED, VolumeSource.CMS_MEDICARE])
        suppressed = source == VolumeSource.CMS_MEDICARE and rng.random() < 0.3
        volumes.append(
            ProcedureVolume(
                specialist_id=specialist_id,
                procedure=procedure,
                period_start=datetime.date(year, 1, 1),
                period_end=datetime.date(year, 12, 31),
                count=None if suppressed else rng.randint(0, 80),
                is_suppressed=suppressed,
                source=source,
                verified=rng.random() < 0.5,
            )
        )
    return volumes


def generate(published_count: int, unpublished_count: int, seed: int) -> None:
    """Migrate the scratch database and bulk-insert the synthetic directory, then build the search index."""
    call_command("migrate", verbosity=0)
    if Specialist.objects.exists():
        sys.exit("This database already holds specialists; use a fresh scratch database.")
    rng = random.Random(seed)
    zips_by_state, weights = weighted_zips(rng)
    state_index = {rows[0][2]: index for index, rows in enumerate(zips_by_state)}
    now, today = timezone.now(), timezone.localdate()
    practice_pk = 0
    # Published: full profiles through bulk_create.
    with tqdm(
        total=published_count, desc="published", unit="", file=sys.stderr, disable=False, mininterval=5
    ) as progress:
        for start in range(0, published_count, BATCH):
            specialists, practices, affiliations, volumes, trainings = [], [], [], [], []
            for pk in range(start + 1, min(start + BATCH, published_count) + 1):
                specialists.append(make_specialist(rng, pk, True, now))
                home = random_zip(rng, zips_by_state, weights)
                places = [home]
                if rng.random() < 0.3:  # a second office in the same state
                    places.append(rng.choice(zips_by_state[state_index[home[2]]]))
                for index, place in enumerate(places):
                    practice_pk += 1
                    practices.append(make_practice(rng, practice_pk, place, now))
                    affiliations.append(Affiliation(specialist_id=pk, practice_id=practice_pk, is_primary=index == 0))
                volumes += make_volumes(rng, pk, today)
                trainings += [
                    Training(specialist_id=pk, course="SI-joint fusion course", year=rng.randint(2015, 2025))
                    for _ in range(rng.choice([0, 0, 1, 2]))
                ]
            with transaction.atomic():
                Specialist.objects.bulk_create(specialists, batch_size=1000)
                Practice.objects.bulk_create(practices, batch_size=1000)
                Affiliation.objects.bulk_create(affiliations, batch_size=1000)
                ProcedureVolume.objects.bulk_create(volumes, batch_size=1000)
                Training.objects.bulk_create(trainings, batch_size=1000)
            progress.update(len(specialists))
    # Unpublished NPPES-like records, one practice each: plain rows, COPY / executemany.
    specialist_rows = FastInserter(
        Specialist, first_name="", last_name="", is_published=False, record_source=RecordSource.NPPES
    )
    practice_rows = FastInserter(Practice, name="", coordinates_source=CoordinatesSource.ZIP_CENTROID)
    affiliation_rows = FastInserter(Affiliation, specialist_id=0, practice_id=0, is_primary=True)
    first_names, last_names = FIRST_NAMES.split(), LAST_NAMES.split()
    first_pk = published_count + 1
    with tqdm(
        total=unpublished_count, desc="unpublished", unit="", file=sys.stderr, disable=False, mininterval=5
    ) as progress:
        for start in range(first_pk, first_pk + unpublished_count, 50_000):
            stop = min(start + 50_000, first_pk + unpublished_count)
            for pk in range(start, stop):
                code, city, state, latitude, longitude = random_zip(rng, zips_by_state, weights)
                practice_pk += 1
                specialist_rows.add(id=pk, first_name=rng.choice(first_names), last_name=rng.choice(last_names))
                practice_rows.add(
                    id=practice_pk,
                    name=f"Practice {practice_pk}",
                    city=city,
                    state=state,
                    zip_code=code,
                    latitude=latitude,
                    longitude=longitude,
                )
                affiliation_rows.add(id=practice_pk, specialist_id=pk, practice_id=practice_pk)
            with transaction.atomic():
                specialist_rows.flush()
                practice_rows.flush()
                affiliation_rows.flush()
            progress.update(stop - start)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # explicit ids were inserted: move the sequences past them
            for model in (Specialist, Practice, Affiliation):
                table = model._meta.db_table
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
        cursor.execute("ANALYZE")
    # The index as production builds it: the command upserts, then vacuums and analyses the table itself.
    call_command("refresh_search_index")
    print(f"generated {published_count} published and {unpublished_count} unpublished specialists", file=sys.stderr)


def naive_search(origin, radius_miles, situation, sort="best", page_size=20):
    """The naive way: load every published specialist with its relations, measure and rank in Python."""
    matches = []
    for specialist in profile_queryset():
        practice, exact_miles = nearest_practice(specialist, origin)
        if practice is not None:
            matches.append((exact_miles, match_specialist(specialist=specialist, origin=origin, situation=situation)))

    def key(m):
        s = m.specialist
        names = (s.last_name.casefold(), s.first_name.casefold(), s.pk)
        return (m.distance_miles, -m.score, *names) if sort == "distance" else (-m.score, m.distance_miles, *names)

    within = sorted((m for miles, m in matches if miles <= radius_miles), key=key)
    beyond = []
    if len(within) < MIN_RESULTS:
        beyond = sorted(
            (m for miles, m in matches if miles > radius_miles),
            key=lambda m: (m.distance_miles, -m.score, *key(m)[-3:]),
        )
    return len(within), within[:page_size], beyond[:BEYOND_LIMIT]


def practice_box_candidates(origin, radius_miles):
    """Without the search index: the first query alone (published specialists with a practice in the box)."""
    box = geo.bounding_box(origin.point, radius_miles)
    return list(
        Specialist.objects.published()
        .filter(practices__latitude__range=(box.south, box.north), practices__longitude__range=(box.west, box.east))
        .values_list("pk", "practices__latitude", "practices__longitude")
    )


def summary(match):
    return (
        match.specialist.pk,
        match.practice.pk,
        match.distance_miles,
        match.score,
        tuple(match.reasons),
        tuple(match.facts),
    )


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def settle() -> None:
    """As a production worker after start-up (gunicorn.conf.py, post_worker_init): everything loaded so far
    (Django, the URL and template caches, the plan's ZIPs) is moved out of the garbage collector's sight, so
    that its full collections do not walk it in the middle of a timed search (the 55–100 ms pauses seen in
    every earlier run)."""
    gc.collect()
    gc.freeze()


def server_cpu_seconds() -> float | None:
    """CPU time so far of this connection's PostgreSQL server process (user + system, from /proc: the server
    runs on this machine), or None (SQLite: the database's work is this process's own)."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(searches: int, naive_sample: int, seed: int) -> None:
    rng = random.Random(seed)
    codes = list(ZipCode.objects.located().values_list("code", flat=True))
    sample = rng.sample(codes, searches)
    by_code = ZipCode.objects.in_bulk(sample)
    origins = [by_code[code] for code in sample]  # in the sampled order, the same on every database
    situations = [
        ranking.Situation(),
        ranking.Situation(diagnostic_injection=ranking.INJECTION_NOT_DONE),
        ranking.Situation(prior_lumbar_fusion=True, conservative_months=8, diagnostic_injection="relieved"),
    ]
    plan = [(origin, rng.choice([10, 25, 50, 100]), rng.choice(situations)) for origin in origins]
    print(
        f"{Specialist.objects.filter(is_published=True).count()} published, "
        f"{Specialist.objects.filter(is_published=False).count()} unpublished specialists; "
        f"{Practice.objects.count()} practices; database: {connection.vendor}",
        file=sys.stderr,
    )
    find_specialists(origin=plan[0][0], radius_miles=50)  # warm up connection and caches
    settle()
    fast_times, cpu_times, counts = [], [], []
    server_started, run_cpu_started = server_cpu_seconds(), time.process_time()
    digest = hashlib.sha256()  # of every result: equal on two databases filled by the same generator run
    for origin, radius, situation in tqdm(plan, desc="find_specialists", file=sys.stderr, disable=False, mininterval=5):
        started, cpu_started = time.perf_counter(), time.process_time()
        result = find_specialists(origin=origin, radius_miles=radius, situation=situation)
        fast_times.append(time.perf_counter() - started)
        cpu_times.append(time.process_time() - cpu_started)
        counts.append(result.count)
        pages = [[summary(m) for m in matches] for matches in (result.matches, result.beyond_radius)]
        digest.update(repr((result.count, pages)).encode())
    server_cpu = server_cpu_seconds()
    run_cpu = time.process_time() - run_cpu_started
    ms = [t * 1000 for t in fast_times]
    print(f"find_specialists: {searches} searches, radius 10/25/50/100 miles, results within radius:")
    print(f"  results   p50 {percentile(counts, 0.5)}, p95 {percentile(counts, 0.95)}, max {max(counts)}")
    print(f"  digest of all results {digest.hexdigest()[:16]} (compare across databases)")
    print(f"  time      p50 {percentile(ms, 0.5):.2f} ms, p95 {percentile(ms, 0.95):.2f} ms, max {max(ms):.2f} ms")
    cpu = [t * 1000 for t in cpu_times]  # this process only: excludes a PostgreSQL server's work
    print(f"  CPU time  p50 {percentile(cpu, 0.5):.2f} ms, p95 {percentile(cpu, 0.95):.2f} ms, max {max(cpu):.2f} ms")
    if server_cpu is not None:  # the database's share, which the CPU times above leave out
        server_ms, own_ms = (server_cpu - server_started) * 1000 / searches, run_cpu * 1000 / searches
        print(f"  CPU per search, mean: this process {own_ms:.2f} ms + PostgreSQL server {server_ms:.2f} ms")
    for radius in sorted({radius for _origin, radius, _situation in plan}):
        group = [index for index, (_o, r, _s) in enumerate(plan) if r == radius]
        wall, cpu_group = [ms[index] for index in group], [cpu[index] for index in group]
        wall_text = f"{percentile(wall, 0.5):.2f} / {percentile(wall, 0.95):.2f} / {max(wall):.2f}"
        cpu_text = f"{percentile(cpu_group, 0.5):.2f} / {percentile(cpu_group, 0.95):.2f} / {max(cpu_group):.2f}"
        print(f"  {radius:>3} miles ({len(group)}): p50 / p95 / max wall {wall_text} ms, CPU {cpu_text} ms")
    started = time.perf_counter()
    sum(range(10**7))
    print(f"  machine load: sum(range(10**7)) took {time.perf_counter() - started:.2f} s (about 0.2 s on an idle core)")
    sys.stdout.flush()
    naive_times, fast_sample_times, box_times, mismatches = [], [], [], 0
    for index, (origin, radius, situation) in enumerate(
        tqdm(plan[:naive_sample], desc="naive (sample)", file=sys.stderr, disable=False, mininterval=5)
    ):
        started = time.perf_counter()
        naive_count, naive_page, naive_beyond = naive_search(origin, radius, situation)
        naive_times.append(time.perf_counter() - started)
        fast_sample_times.append(fast_times[index])
        started = time.perf_counter()
        practice_box_candidates(origin, radius)
        box_times.append(time.perf_counter() - started)
        result = find_specialists(origin=origin, radius_miles=radius, situation=situation)
        same = (
            result.count == naive_count
            and [summary(m) for m in result.matches] == [summary(m) for m in naive_page]
            and [summary(m) for m in result.beyond_radius] == [summary(m) for m in naive_beyond]
        )
        if not same:
            mismatches += 1
            print(f"MISMATCH for {origin.code} within {radius} miles", file=sys.stderr)
    if naive_times:
        naive_p50 = statistics.median(naive_times) * 1000
        fast_p50 = statistics.median(fast_sample_times) * 1000
        print(f"naive way on the first {len(naive_times)} of the same searches:")
        print(f"  time      p50 {naive_p50:.1f} ms vs {fast_p50:.2f} ms: {naive_p50 / fast_p50:.0f}× faster")
        print(f"  same results: {len(naive_times) - mismatches} of {len(naive_times)}")
        box_p50, box_max = statistics.median(box_times) * 1000, max(box_times) * 1000
        print(f"without the search index, the practice-box query alone: p50 {box_p50:.1f} ms, max {box_max:.1f} ms")
    if mismatches:
        sys.exit(1)


REMOTE_STATES = ("AK", "HI", "PR", "VI", "GU", "AS", "MP")


def worst(radius: int, sample: int, seed: int) -> None:
    """Search from every located ZIP (or a sample of them plus every ZIP of Alaska, Hawaii and the territories)
    and print the slowest: the searches with nothing near widen farthest."""
    rng = random.Random(seed)
    origins = list(ZipCode.objects.located().order_by("code"))
    if sample:
        chosen = {z.code for z in rng.sample(origins, min(sample, len(origins)))}
        origins = [z for z in origins if z.code in chosen or z.state in REMOTE_STATES]
    find_specialists(origin=origins[0], radius_miles=radius)  # warm up connection and caches
    settle()
    timed, digest = [], hashlib.sha256()
    for origin in tqdm(origins, desc=f"every ZIP, {radius} miles", file=sys.stderr, disable=False, mininterval=10):
        started, cpu_started = time.perf_counter(), time.process_time()
        result = find_specialists(origin=origin, radius_miles=radius)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        timed.append((wall * 1000, cpu * 1000, origin.code, origin.state, result.count, len(result.beyond_radius)))
        pages = [[summary(m) for m in matches] for matches in (result.matches, result.beyond_radius)]
        digest.update(repr((origin.code, result.count, pages)).encode())
    walls, cpus = [row[0] for row in timed], [row[1] for row in timed]
    widened = sum(1 for row in timed if row[4] < MIN_RESULTS)
    print(f"worst ZIPs: {len(timed)} searches within {radius} miles ({widened} widened beyond it); {connection.vendor}")
    print(f"  digest of all results {digest.hexdigest()[:16]}")
    print(f"  wall  p50 {percentile(walls, 0.5):.2f} ms, p95 {percentile(walls, 0.95):.2f} ms, max {max(walls):.2f} ms")
    print(f"  CPU   p50 {percentile(cpus, 0.5):.2f} ms, p95 {percentile(cpus, 0.95):.2f} ms, max {max(cpus):.2f} ms")
    for wall, cpu, code, state, count, beyond in sorted(timed, reverse=True)[:5]:
        print(f"  {code} {state}: {wall:.1f} ms wall, {cpu:.1f} ms CPU ({count} within, {beyond} beyond)")
    for state in REMOTE_STATES:
        rows = [row for row in timed if row[3] == state]
        if rows:
            wall, cpu, code = max(rows, key=lambda row: row[1])[:3]
            print(f"  {state} ({len(rows)} ZIPs): max CPU {cpu:.1f} ms ({code}, {wall:.1f} ms wall)")
    by_state: dict[str, list[float]] = {}
    for wall, _cpu, _code, state, *_rest in timed:
        by_state.setdefault(state, []).append(wall)
    slowest = sorted(by_state.items(), key=lambda item: -max(item[1]))[:8]
    print("  max by state: " + ", ".join(f"{state} {max(walls):.1f}" for state, walls in slowest))


def index_digest() -> None:
    """Print a digest of every search index row's written columns, in (specialist, practice) order: two
    versions of the index refresh wrote the same rows on the same data only if they print the same digest."""
    from referral.models import SearchEntry
    from referral.search_index import COLUMNS

    digest = hashlib.sha256()
    # Not the inputs' digest: it covers the code that shapes a row (search_index.shaping_code), so it differs
    # between versions even when they write the same rows.
    columns = [column for column in COLUMNS if column != "inputs"]
    rows = SearchEntry.objects.order_by("specialist_id", "practice_id").values_list(*columns)
    count = 0
    for row in rows.iterator(chunk_size=5000):
        # sort_keys: PostgreSQL's jsonb gives an explanation's keys back in its own order, SQLite in the written one.
        digest.update(json.dumps(row, sort_keys=True, default=str).encode())
        count += 1
    print(f"  {count} index rows, digest {digest.hexdigest()[:16]} (compare across versions and databases)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="migrate a scratch database and fill it")
    gen.add_argument("--published", type=int, default=20_000)
    gen.add_argument("--unpublished", type=int, default=1_000_000)
    bench = sub.add_parser("run", help="time the searches")
    bench.add_argument("--searches", type=int, default=1000)
    bench.add_argument("--naive-sample", type=int, default=30, help="searches also run the naive way (slow)")
    slowest = sub.add_parser("worst", help="search from every ZIP (or a sample plus the remote ones); the slowest")
    slowest.add_argument("--radius", type=int, default=10)
    slowest.add_argument(
        "--sample", type=int, default=0, help="random ZIPs besides AK, HI and the territories (0: all)"
    )
    sub.add_parser("index", help="print a digest of the search index rows")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    if args.command == "generate":
        generate(args.published, args.unpublished, args.seed)
    elif args.command == "index":
        index_digest()
    elif args.command == "worst":
        worst(args.radius, args.sample, args.seed)
    else:
        run(args.searches, args.naive_sample, args.seed)
