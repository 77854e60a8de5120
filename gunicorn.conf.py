"""gunicorn settings for SIJ Finder: `gunicorn -c gunicorn.conf.py` (docs/operations.md).

The access log keeps the path and drops the query string: search URLs carry the patient's ZIP and situation
(`/search/?zip=60611&prior_lumbar_fusion=yes`), and a log line must never pair them with a client address.
"""

import multiprocessing
import os

wsgi_app = "config.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Searches are CPU-bound: about two workers per core.
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count()))
# Requests give up on the database after SIJ_DB_TIMEOUT seconds (503), far below this.
timeout = 30
accesslog = "-"
# %(U)s is the path without the query string; never use %(r)s, %(q)s or %(f)s (the referrer holds the query too).
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'


def post_worker_init(worker):
    """Move what loading the app created out of the garbage collector's view: otherwise about one request in 25
    pays a full collection of Django's start-up objects, ~50 ms (BENCHMARKS.md, "FHIR API search")."""
    import gc

    gc.freeze()
