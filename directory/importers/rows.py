"""Small parsers for CSV cell values, shared by the importers.

Each takes the raw cell text and returns a Python value, or raises ValueError with a message meant for the
person who wrote the file.
"""

import datetime

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
