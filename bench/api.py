#!/usr/bin/env python3
"""Measure the CPU time of in-process JSON API requests, for two source trees in the same run.

    python bench/api.py setup --db /tmp/api-bench.sqlite3                      # migrate + the demo directory
    python bench/api.py run --db /tmp/api-bench.sqlite3 --tree /tmp/before --tree . [--requests 400 --rounds 3]

`run` alternates the trees round by round (before, after, before, after, …), each in a fresh process that
sets up Django from that tree, warms up, then times N `Client().get("/api/v1/search?…")` calls (random demo
ZIPs, radii and situations, the same seed for every tree) and N profile calls with process CPU time. It prints
ms of CPU per request per tree and round, the machine's load average, and a digest of the search answers
(the same digest means both trees answered the same). DEBUG off, as in production. Never point --db at a
database you care about.
"""

import argparse
import hashlib
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def environment(db: str) -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "bench-only",
        "DJANGO_ALLOWED_HOSTS": "testserver",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DATABASE_URL": f"sqlite:///{db}",
        "SIJ_RATE_SEARCH": "1000000/min",  # the bench is one client
        "DJANGO_LOG_LEVEL": "ERROR",
    }


def setup(db: str) -> None:
    env = environment(db)
    for command in (["migrate", "--no-input"], ["setup_demo", "--force"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True)


def queries(count: int, seed: int = 7) -> list[str]:
    """Return search query strings around the demo directory's ZIPs (the same list for every tree)."""
    import django

    django.setup()
    from directory.models import Practice

    zips = sorted({zip_code for zip_code in Practice.objects.values_list("zip_code", flat=True) if zip_code})
    rng = random.Random(seed)
    result = []
    for _ in range(count):
        params = [f"zip={rng.choice(zips)}", f"radius={rng.choice([10, 25, 50, 100, 250])}"]
        if rng.random() < 0.5:
            params.append(f"prior_lumbar_fusion={rng.choice(['yes', 'no'])}")
        if rng.random() < 0.5:
            params.append(f"conservative_months={rng.randint(0, 24)}")
        if rng.random() < 0.3:
            params.append(f"diagnostic_injection={rng.choice(['not_done', 'relieved', 'not_relieved'])}")
        result.append("&".join(params))
    return result


def measure(requests: int) -> dict:
    """Time the API in this process (the tree is the current directory) and return the figures."""
    sys.path.insert(0, os.getcwd())
    search_queries = queries(requests)
    from django.test import Client

    from directory.models import Specialist

    client = Client()
    ids = list(Specialist.objects.filter(is_published=True).order_by("pk").values_list("pk", flat=True))
    for query in search_queries[:20]:  # warm-up: imports, caches, the first connection
        assert client.get(f"/api/v1/search?{query}").status_code == 200
    digest = hashlib.sha256()
    start = time.process_time()
    for query in search_queries:
        response = client.get(f"/api/v1/search?{query}")
        assert response.status_code == 200, response.content
        digest.update(json.dumps(json.loads(response.content), sort_keys=True).encode())
    search_cpu = (time.process_time() - start) / len(search_queries)
    profiles = [(ids[i % len(ids)], search_queries[i]) for i in range(requests)]
    start = time.process_time()
    for pk, query in profiles:
        assert client.get(f"/api/v1/specialists/{pk}?{query}").status_code == 200
    profile_cpu = (time.process_time() - start) / len(profiles)
    return {"search_ms": search_cpu * 1000, "profile_ms": profile_cpu * 1000, "digest": digest.hexdigest()[:12]}


def run(db: str, trees: list[str], requests: int, rounds: int) -> None:
    env = environment(db)
    results: dict[str, list[dict]] = {tree: [] for tree in trees}
    for round_number in range(1, rounds + 1):
        for tree in trees:
            out = subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), "measure", "--requests", str(requests)],
                cwd=tree,
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            figures = json.loads(out.strip().splitlines()[-1])
            results[tree].append(figures)
            load = os.getloadavg()[0]
            print(
                f"round {round_number} {tree}: search {figures['search_ms']:.2f} ms CPU/request, "
                f"profile {figures['profile_ms']:.2f} ms, digest {figures['digest']}, load {load:.2f}",
                flush=True,
            )
    print("\nmedian over rounds (ms of CPU per request):")
    for tree, rows in results.items():
        search = statistics.median(row["search_ms"] for row in rows)
        profile = statistics.median(row["profile_ms"] for row in rows)
        print(f"  {tree}: search {search:.2f}, profile {profile:.2f}, digests {sorted({r['digest'] for r in rows})}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["setup", "run", "measure"])
    parser.add_argument("--db", default="/tmp/api-bench.sqlite3")
    parser.add_argument("--tree", action="append", default=[])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.command == "setup":
        setup(args.db)
    elif args.command == "run":
        run(args.db, [str(Path(tree).resolve()) for tree in args.tree or [str(ROOT)]], args.requests, args.rounds)
    else:
        print(json.dumps(measure(args.requests)))


if __name__ == "__main__":
    main()
