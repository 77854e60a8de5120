"""Small parsers for CSV cell values, shared by the importers.

Each takes the raw cell text and returns a Python value, or raises ValueError with a message meant for the
person who wrote the file.
"""

import datetime
import math
from urllib.parse import urlsplit

import phonenumbers

from directory.models import US_STATES_AND_TERRITORIES

TRUE_WORDS = {"yes", "true", "1"}
FALSE_WORDS = {"no", "false", "0", ""}


def parse_bool(raw: str) -> bool:
    """Return True for yes/true/1 and False for no/false/0 or a blank cell (any case)."""
    word = (raw or "").strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"“{raw}” is not yes/no (accepted: yes, no, true, false, 1, 0, or blank for no).")


def parse_count(raw: str) -> int | None:
    """Return a whole number ≥ 0, or None for a blank cell."""
    text = (raw or "").strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"“{raw}” is not a whole number.") from None
    if value < 0:
        raise ValueError(f"{value} is negative; counts are 0 or more.")
    if value > MAX_COUNT:
        raise ValueError(f"{value} is too large for a count.")
    return value


def parse_date(raw: str) -> datetime.date | None:
    """Return the date of an ISO date cell (2025-12-31), or None for a blank cell."""
    text = (raw or "").strip()
    if not text:
        return None
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"“{raw}” is not a date; write it as YYYY-MM-DD, like 2025-12-31.") from None


def parse_choice(raw: str, choices) -> str:
    """Return the value of a TextChoices member given its value or its label (any case)."""
    text = (raw or "").strip().lower()
    for choice in choices:
        if text in (choice.value.lower(), choice.label.lower()):
            return choice.value
    accepted = ", ".join(choice.value for choice in choices)
    raise ValueError(f"“{raw}” is not one of: {accepted}.")


def split_list(raw: str, separator: str = ";") -> list[str]:
    """Return the non-blank, stripped items of a separated cell."""
    return [item.strip() for item in (raw or "").split(separator) if item.strip()]


# The largest value a PositiveIntegerField holds on every database Django supports.
MAX_COUNT = 2_147_483_647


def parse_state(raw: str) -> str:
    """Return the USPS code of a US state or territory ("il" → "IL")."""
    code = (raw or "").strip().upper()
    if code not in US_STATES_AND_TERRITORIES:
        raise ValueError(f"“{raw}” is not a US state or territory code; write the 2-letter code, like IL or PR.")
    return code


def format_phone(number: phonenumbers.PhoneNumber) -> str:
    """Return the one stored form of a phone number: 312-555-0142 (ext. 12) in the US, +44 20 7946 0000 elsewhere."""
    if number.country_code == 1:
        digits = str(number.national_number)
        text = f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"
        return f"{text} ext. {number.extension}" if number.extension else text
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def parse_phone(raw: str) -> str:
    """Return a valid phone number in its stored form; raise ValueError for "555" or other non-numbers."""
    text = (raw or "").strip()
    try:
        number = phonenumbers.parse(text, "US")
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValueError(f"“{raw}” is not a phone number; write it with its area code, like 312-555-0142.")
    return format_phone(number)


def parse_website(raw: str) -> str:
    """Return an http(s) address; other schemes (javascript:, ftp:, data:) are refused."""
    text = (raw or "").strip()
    if urlsplit(text).scheme.lower() not in ("http", "https"):
        raise ValueError(f"“{raw}” is not a web address; write it in full, starting with https:// or http://.")
    return text


def parse_year(raw, *, first: int, last: int) -> int:
    """Return a year between `first` and `last`."""
    year = int(raw)
    if not first <= year <= last:
        raise ValueError(f"{year} is not a plausible year (accepted: {first}–{last}).")
    return year


def finite_number(raw: str) -> float:
    """Return a finite number from a numeric cell ("1,234.5"); nan, inf and 1e400 are refused."""
    value = float(raw.replace(",", ""))
    if not math.isfinite(value):
        raise ValueError(f"“{raw.strip()}” is not a number")
    return value
