"""Announce the specialists a request changed once, after its view's transaction (search index: once per save).

Without it every model save announces its specialist at once, so an admin change form with N inline rows
(practices, trainings, counts) would rebuild that specialist's search entries N + 1 times. The admin commits
its transaction inside the view; this middleware sits outside it, so the announcement follows the commit
(as `transaction.on_commit` would). After a view that failed and rolled back, the refresh rebuilds the same
entries again: harmless, since it reads what the database holds.
"""

from directory.models import batch_changes


def batch_changes_middleware(get_response):
    """Wrap each request in batch_changes(): its specialists_touched() calls are announced once, at the end."""

    def middleware(request):
        with batch_changes():
            return get_response(request)

    return middleware
