"""Read replicas: the patient search and public profile pages may read from PostgreSQL replicas.

`DATABASE_REPLICA_URLS` (settings) adds one database alias per replica, `replica1`, `replica2`, …, listed in
`SIJ_READ_REPLICAS`. Reads go to a
replica only inside `replica_reads()` — the patient views enter it through `@reads_from_replica` — and only for an
anonymous visitor: a signed-in user (a physician adding to a shortlist, a curator checking an edit) reads the
primary, so they always see their own writes. Every write, every migration and everything else reads the primary.
A replica lags its primary by a moment: a curator's edit reaches the public pages a little later, never wrongly.
"""

import random
from contextlib import contextmanager
from contextvars import ContextVar
from functools import wraps

from django.conf import settings

_reading_replica: ContextVar[bool] = ContextVar("reading_replica", default=False)


def replica_aliases() -> list[str]:
    return getattr(settings, "SIJ_READ_REPLICAS", [])


@contextmanager
def replica_reads():
    """Let the reads inside the block go to a replica (when one is configured)."""
    token = _reading_replica.set(True)
    try:
        yield
    finally:
        _reading_replica.reset(token)


def reads_from_replica(view):
    """Serve an anonymous visitor's request from a replica; a signed-in one's (session cookie) from the primary."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if settings.SESSION_COOKIE_NAME in request.COOKIES or not replica_aliases():
            return view(request, *args, **kwargs)
        with replica_reads():
            return view(request, *args, **kwargs)

    return wrapped


class ReplicaRouter:
    """Route reads inside `replica_reads()` to a random replica; everything else to the primary."""

    def db_for_read(self, model, **hints):
        if _reading_replica.get() and (aliases := replica_aliases()):
            return random.choice(aliases)  # noqa: S311 - spreading load, not security
        return "default"

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True  # replicas hold the primary's data: a row read from either relates to any other

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"  # replicas follow the primary's schema by replication
