"""Logging filters: no log line pairs a ZIP code or a patient's situation with a client address."""

import logging
import re

QUERY = re.compile(r"\?[^\s\"]*")


class DropQueryStrings(logging.Filter):
    """Drop the query string of every URL in the message (runserver's `django.server` request lines are
    '"GET /search/?zip=60611&… HTTP/1.1" 200 1234'): the path stays, the ZIP and situation go."""

    def filter(self, record):
        message = record.getMessage()
        if "?" in message:
            record.msg, record.args = QUERY.sub("", message), ()
        return True
