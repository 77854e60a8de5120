"""CSV cells a spreadsheet will not run as formulas (OWASP "CSV injection"), for every CSV the site writes."""

# A cell starting with one of these is a formula (or becomes one) in Excel, LibreOffice or Google Sheets;
# the full-width forms are read as their ASCII twins by some of them.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def neutralise_cell(value) -> str:
    """Return the cell as text, with a leading apostrophe when it would start a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def restore_cell(text: str) -> str:
    """Undo neutralise_cell(): an import of an exported file reads the value that was exported."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_PREFIXES) else text
