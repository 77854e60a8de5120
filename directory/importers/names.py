"""Text from public files (NPPES, CMS) in the case people write it: "O'DONNELL" → "O'Donnell".

The files write names and addresses in capitals. Only text that is all capitals (or all lower case) is
re-cased; text already in mixed case is kept as the file writes it, since someone chose that spelling.
"Mac" is left alone ("MACK" is Mack, "MACDONALD" becomes Macdonald): unlike "Mc", it starts too many names.
"""

import re

# Lower case inside a name when another word follows: "VAN DER BERG" → "van der Berg".
PARTICLES = frozenset(
    {"van", "der", "den", "de", "da", "das", "di", "do", "dos", "du", "la", "le", "von", "ter", "ten"}
)
ROMAN_SUFFIXES = frozenset({"ii", "iii", "iv", "vi"})
# Address words that stay in capitals: directions, "PO" of PO Box, US state codes inside a line are rare.
ADDRESS_CAPITALS = frozenset({"n", "s", "e", "w", "ne", "nw", "se", "sw", "po", "us"})
WORD_PARTS = re.compile(r"([-'’])")  # split keeping the separators


def case_name(value: str) -> str:
    """Return a person's name in normal case: O'Donnell, McDonald, Smith-Jones, van der Berg, Jr, III."""
    value = " ".join(value.split())
    if not needs_casing(value):
        return value
    words = value.lower().split(" ")
    cased = []
    for position, word in enumerate(words):
        if word in PARTICLES and position < len(words) - 1:
            cased.append(word)
        elif word.rstrip(".") in ROMAN_SUFFIXES:
            cased.append(word.upper())
        else:
            cased.append(case_word(word))
    return " ".join(cased)


def case_address(value: str) -> str:
    """Return an address line or city in normal case: "1200 N STATE ST" → "1200 N State St"."""
    value = " ".join(value.split())
    if not needs_casing(value):
        return value
    return " ".join(
        word.upper() if word.rstrip(".,") in ADDRESS_CAPITALS else case_word(word) for word in value.lower().split(" ")
    )


def case_word(word: str) -> str:
    """Capitalize each part of a lower-case word split at hyphens and apostrophes ("o'donnell" → "O'Donnell")."""
    parts = WORD_PARTS.split(word)
    out = []
    for index, part in enumerate(parts):
        after_apostrophe = index > 0 and parts[index - 1] in ("'", "’")
        if after_apostrophe and len(part) == 1:  # "mary's": a possessive s stays small
            out.append(part)
        elif part.startswith("mc") and len(part) > 3:
            out.append("Mc" + part[2:].capitalize())
        else:
            out.append(part.capitalize())
    return "".join(out)


def needs_casing(value: str) -> bool:
    return value.isupper() or value.islower()
