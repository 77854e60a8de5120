"""Procedure counts: which one stands for the past year, and how a count is worded. Pure: no queries.

The one home of the past-year rule (the window, month arithmetic, the preference among counts) and of the
words every page, export and admin list uses for a count, its period, its source and its verification.
`ProcedureVolumeQuerySet.past_year()` (directory/models.py) is the same eligibility rule in SQL, built on
past_year_window() and YEAR_PERIOD_DAYS from here.
"""

import datetime
import functools

from django.conf import settings
from django.utils import timezone, translation
from django.utils.formats import date_format, number_format
from django.utils.translation import get_language, gettext, ngettext, pgettext

from directory.models import Procedure, VolumeSource

# --- The past-year rule ------------------------------------------------------------------------------

# Preference among counts for the same period: verified first, then the most complete source
# (CMS covers Medicare fee-for-service patients only, so it is a floor, not the whole practice).
SOURCE_PREFERENCE = [
    VolumeSource.REGISTRY,
    VolumeSource.HOSPITAL,
    VolumeSource.SELF_REPORTED,
    VolumeSource.CMS_MEDICARE,
]
# A "past year" count covers roughly twelve months.
YEAR_PERIOD_DAYS = range(334, 397)


@functools.lru_cache(maxsize=4096)  # a rebuild asks it for the same few days 130,000 times (0.5 s of 21 profiled)
def add_months(day: datetime.date, months: int) -> datetime.date:
    """Return the same day `months` months later (earlier when negative), clamped to the month's last day."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    next_month = datetime.date(year + (month == 11), (month + 1) % 12 + 1, 1)
    return datetime.date(year, month + 1, min(day.day, (next_month - datetime.timedelta(days=1)).day))


def past_year_window(today: datetime.date | None = None) -> tuple[datetime.date, datetime.date]:
    """Return (oldest_end, today): a count stands for a past year only if its period ends between them."""
    today = today or timezone.localdate()
    return add_months(today, -settings.SIJ_VOLUME_WINDOW_MONTHS), today


def leaves_window_on(period_end: datetime.date) -> datetime.date:
    """Return the first day a count whose period ended on `period_end` no longer stands for a past year."""
    return add_months(period_end, settings.SIJ_VOLUME_WINDOW_MONTHS)


def select_past_year_volume(volumes, procedure, *, today: datetime.date | None = None):
    """Return the volume that stands for `procedure`'s past year, or None.

    That is the latest twelve-month count whose period ended within SIJ_VOLUME_WINDOW_MONTHS of today;
    for the same period, a verified count beats an unverified one, then sources by SOURCE_PREFERENCE.
    """
    oldest_end, today = past_year_window(today)
    current = [
        v
        for v in volumes
        if v.procedure == procedure
        and oldest_end <= v.period_end <= today
        and (v.period_end - v.period_start).days in YEAR_PERIOD_DAYS
    ]
    if not current:
        return None
    return max(current, key=lambda v: (v.period_end, v.verified, -SOURCE_PREFERENCE.index(v.source)))


# --- Words -------------------------------------------------------------------------------------------
# Translated (locale/es) in whole phrases with named placeholders, so that a language can order them its own way.


def kept_per_language(function=None, *, maxsize=4096):
    """Keep the results of a wording function of its arguments and a language alone, per language.

    The search index words every count and reason in every language for every specialist it refreshes, and
    Django's catalogue look-ups and date and number formatting behind them were most of a rebuild (BENCHMARKS.md,
    "Search index upkeep"); their arguments repeat (a handful of periods, sources, counts and months) across a
    whole rebuild. The wrapped function takes `language=` (the active language when None): a caller wording many
    things in one language passes it once instead of paying for get_language() (asgiref's Local) on every call.
    A result not kept yet is worded with that language active. Arguments must be hashable plain values (a
    model instance hashes by its primary key alone, whatever its fields hold).
    """
    if function is None:
        return functools.partial(kept_per_language, maxsize=maxsize)

    @functools.lru_cache(maxsize=maxsize)
    def kept(language, *args):
        if language == get_language():
            return function(*args)
        with translation.override(language):
            return function(*args)

    @functools.wraps(function)
    def wording(*args, language=None):
        return kept(language or get_language(), *args)

    wording.cache_clear = kept.cache_clear
    return wording


@kept_per_language
def procedure_noun(procedure, count) -> str:
    """Return "minimally invasive SI-joint fusion(s)" for `count` (None: the plural, as for an unknown count)."""
    n = 2 if count is None else count
    if procedure == Procedure.MIS_SI_FUSION:
        return ngettext("minimally invasive SI-joint fusion", "minimally invasive SI-joint fusions", n)
    if procedure == Procedure.OPEN_SI_FUSION:
        return ngettext("open SI-joint fusion", "open SI-joint fusions", n)
    if procedure == Procedure.SI_INJECTION:
        return ngettext("SI-joint injection", "SI-joint injections", n)
    if procedure == Procedure.RF_ABLATION:
        return ngettext("SI-joint RF ablation / nerve block", "SI-joint RF ablations / nerve blocks", n)
    return ngettext("lumbar fusion", "lumbar fusions", n)


def sentence(text: str) -> str:
    """Return text with its first letter capitalised (and the rest as it is: "SI-joint" stays)."""
    return text[:1].upper() + text[1:]


@kept_per_language
def month_year(day: datetime.date) -> str:
    """Return "Mar 2026" ("mar 2026" in Spanish), in the active language."""
    return date_format(day, pgettext("abbreviated month and year", "M Y"))


@kept_per_language
def format_period(start: datetime.date, end: datetime.date) -> str:
    """Return "Jan–Dec 2025" or "Jul 2024–Jun 2025" (in Spanish "ene–dic 2025")."""
    if start.year == end.year:
        month = pgettext("abbreviated month", "M")  # a variable: xgettext reads no f-strings
        return f"{date_format(start, month)}–{month_year(end)}"
    return f"{month_year(start)}–{month_year(end)}"


@kept_per_language
def source_label(source: str) -> str:
    """Return "CMS Medicare", "self-reported", … (an unknown source as it is)."""
    try:
        return str(VolumeSource(source).label)
    except ValueError:
        return source


def wording_key(volume) -> tuple:
    """Return the fields of a count that its words depend on, as plain values (the key its words are kept by)."""
    return (volume.procedure, volume.count, volume.period_start, volume.period_end, volume.source, volume.verified)


@kept_per_language
def _verification(verified: bool, verified_on: datetime.date | None) -> str:
    if not verified:
        return gettext("not verified")
    return gettext("verified %(month)s") % {"month": month_year(verified_on)} if verified_on else gettext("verified")


@kept_per_language
def grouped(count: int) -> str:
    """Return 1250 as "1,250" (in Spanish too, as written in the United States: config/formats/es)."""
    return number_format(count, force_grouping=True)


# Counts repeat far less than periods or sources: room for the distinct counts of a large directory in both
# languages. A count's key fact is kept without its verification (the profile's verification month, a different
# one for most specialists), which is put in afterwards: keyed by that month too, the key facts of 20,000
# specialists outgrew this room and a rebuild worded most of them afresh (BENCHMARKS.md, "Index rebuild").
COUNT_WORDS_KEPT = 2**15


def verified_month(volume, verified_on: datetime.date | None) -> datetime.date | None:
    """Return what a count's words show of the profile's verification date: its month (the first day of it),
    and nothing for an unverified count (it reads "not verified" whenever the profile was verified)."""
    return verified_on.replace(day=1) if volume.verified and verified_on else None


def _escaped(text: str) -> str:
    """Return text to go into a kept frame (_fact), which is %-formatted once more (_with_verification)."""
    return text.replace("%", "%%")


VERIFICATION = {"verification": "%(verification)s"}  # left in a kept frame, for _with_verification() to fill in


def _with_verification(frame: str, volume, verified_on: datetime.date | None, language: str | None) -> str:
    """Return a kept frame with the count's verification put in."""
    verification = _verification(volume.verified, verified_month(volume, verified_on), language=language)
    return frame % {"verification": verification}


def describe_volume(volume, *, verified_on: datetime.date | None = None, language: str | None = None) -> str:
    """Return a ranking reason: "34 minimally invasive SI-joint fusions in Jan–Dec 2025 (self-reported, verified)".

    A suppressed count reads "… not published by CMS Medicare (fewer than 11 patients)", never 0. Kept with the
    verification month in the key, unlike a key fact: the ranking's reasons leave the month out (verified_on is
    None), so their keys repeat across a directory.
    """
    return _described(*wording_key(volume), verified_month(volume, verified_on), language=language)


@kept_per_language(maxsize=COUNT_WORDS_KEPT)
def _described(procedure, count, period_start, period_end, source, verified, verified_on) -> str:
    language = get_language()  # the language being worded, passed on to the kept words below
    period = format_period(period_start, period_end, language=language)
    if count is None:
        values = {
            "procedures": sentence(procedure_noun(procedure, None, language=language)),
            "period": period,
            "source": source_label(source, language=language),
        }
        if source == VolumeSource.CMS_MEDICARE:
            return (
                gettext("%(procedures)s in %(period)s: not published by %(source)s (fewer than 11 patients)") % values
            )
        return gettext("%(procedures)s in %(period)s: not published by %(source)s") % values
    return gettext("%(count)s %(procedures)s in %(period)s (%(source)s, %(verification)s)") % {
        "count": grouped(count, language=language),
        "procedures": procedure_noun(procedure, count, language=language),
        "period": period,
        "source": source_label(source, language=language),
        "verification": _verification(verified, verified_on, language=language),
    }


def volume_fact(volume, *, verified_on: datetime.date | None = None, language: str | None = None) -> str:
    """Return a result card's key fact: "34 minimally invasive SI-joint fusions, Jan–Dec 2025, self-reported,
    verified Mar 2026" (`verified_on`: when the profile was verified)."""
    return _with_verification(_fact(*wording_key(volume), language=language), volume, verified_on, language)


@kept_per_language(maxsize=COUNT_WORDS_KEPT)
def _fact(procedure, count, period_start, period_end, source, verified) -> str:
    language = get_language()  # the language being worded, passed on to the kept words below
    period = _escaped(format_period(period_start, period_end, language=language))
    source_words = _escaped(source_label(source, language=language))
    if count is None:
        return gettext("%(procedures)s: not published by %(source)s, %(period)s") % {
            "procedures": _escaped(sentence(procedure_noun(procedure, None, language=language))),
            "source": source_words,
            "period": period,
        }
    return gettext("%(count)s %(procedures)s, %(period)s, %(source)s, %(verification)s") % {
        "count": _escaped(grouped(count, language=language)),
        "procedures": _escaped(procedure_noun(procedure, count, language=language)),
        "period": period,
        "source": source_words,
        **VERIFICATION,
    }


def describe_stale(volume, *, language: str | None = None) -> str:
    """Return "Minimally invasive SI-joint fusions: last count is from 2022, too old to count"."""
    return _stale(volume.procedure, volume.period_end.year, language=language)


@kept_per_language
def _stale(procedure, year: int) -> str:
    return gettext("%(procedures)s: last count is from %(year)s, too old to count") % {
        "procedures": sentence(procedure_noun(procedure, None)),
        "year": year,
    }


def volume_columns(volume) -> tuple[str, str]:
    """Return (count, "period, source, verification") for a table or CSV; blanks when there is no count."""
    if volume is None:
        return "", ""
    count = gettext("not published by source") if volume.count is None else str(volume.count)
    period = format_period(volume.period_start, volume.period_end)
    return count, f"{period}, {source_label(volume.source)}, {_verification(volume.verified, None)}"


def count_text(volume) -> str:
    """Return a count as the admin shows it (in English): a suppressed or missing count never reads as 0."""
    if volume.is_suppressed:
        return "under 11, suppressed by CMS" if volume.source == VolumeSource.CMS_MEDICARE else "suppressed by source"
    return "not given" if volume.count is None else str(volume.count)
