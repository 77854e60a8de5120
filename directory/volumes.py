"""Procedure counts: which one stands for the past year, and how a count is worded. Pure: no queries.

The one home of the past-year rule (the window, month arithmetic, the preference among counts) and of the
words every page, export and admin list uses for a count, its period, its source and its verification.
`ProcedureVolumeQuerySet.past_year()` (directory/models.py) is the same eligibility rule in SQL, built on
past_year_window() and YEAR_PERIOD_DAYS from here.
"""

import datetime
import functools

from django.conf import settings
from django.utils import timezone
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


def kept_per_language(function):
    """Keep the results of a wording function of its arguments and the active language alone, per language.

    The search index words every count in every language for every specialist it refreshes, and Django's date
    formatting and catalogue look-ups behind these few functions were half of that (BENCHMARKS.md, "Search
    index upkeep"); their arguments repeat (a handful of periods, sources and months) across a whole rebuild.
    """
    kept = functools.lru_cache(maxsize=4096)(lambda language, *args: function(*args))

    @functools.wraps(function)
    def wording(*args):
        return kept(get_language(), *args)

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


def _verification(volume, verified_on: datetime.date | None) -> str:
    if not volume.verified:
        return gettext("not verified")
    return gettext("verified %(month)s") % {"month": month_year(verified_on)} if verified_on else gettext("verified")


def describe_volume(volume, *, verified_on: datetime.date | None = None) -> str:
    """Return a ranking reason: "34 minimally invasive SI-joint fusions in Jan–Dec 2025 (self-reported, verified)".

    A suppressed count reads "… not published by CMS Medicare (fewer than 11 patients)", never 0.
    """
    period = format_period(volume.period_start, volume.period_end)
    if volume.count is None:
        values = {
            "procedures": sentence(procedure_noun(volume.procedure, None)),
            "period": period,
            "source": source_label(volume.source),
        }
        if volume.source == VolumeSource.CMS_MEDICARE:
            return (
                gettext("%(procedures)s in %(period)s: not published by %(source)s (fewer than 11 patients)") % values
            )
        return gettext("%(procedures)s in %(period)s: not published by %(source)s") % values
    return gettext("%(count)s %(procedures)s in %(period)s (%(source)s, %(verification)s)") % {
        "count": number_format(volume.count, force_grouping=True),
        "procedures": procedure_noun(volume.procedure, volume.count),
        "period": period,
        "source": source_label(volume.source),
        "verification": _verification(volume, verified_on),
    }


def volume_fact(volume, *, verified_on: datetime.date | None = None) -> str:
    """Return a result card's key fact: "34 minimally invasive SI-joint fusions, Jan–Dec 2025, self-reported,
    verified Mar 2026" (`verified_on`: when the profile was verified)."""
    period = format_period(volume.period_start, volume.period_end)
    source = source_label(volume.source)
    if volume.count is None:
        return gettext("%(procedures)s: not published by %(source)s, %(period)s") % {
            "procedures": sentence(procedure_noun(volume.procedure, None)),
            "source": source,
            "period": period,
        }
    return gettext("%(count)s %(procedures)s, %(period)s, %(source)s, %(verification)s") % {
        "count": number_format(volume.count, force_grouping=True),
        "procedures": procedure_noun(volume.procedure, volume.count),
        "period": period,
        "source": source,
        "verification": _verification(volume, verified_on),
    }


def describe_stale(volume) -> str:
    """Return "Minimally invasive SI-joint fusions: last count is from 2022, too old to count"."""
    return gettext("%(procedures)s: last count is from %(year)s, too old to count") % {
        "procedures": sentence(procedure_noun(volume.procedure, None)),
        "year": volume.period_end.year,
    }


def volume_columns(volume) -> tuple[str, str]:
    """Return (count, "period, source, verification") for a table or CSV; blanks when there is no count."""
    if volume is None:
        return "", ""
    count = gettext("not published by source") if volume.count is None else str(volume.count)
    period = format_period(volume.period_start, volume.period_end)
    return count, f"{period}, {source_label(volume.source)}, {_verification(volume, None)}"


def count_text(volume) -> str:
    """Return a count as the admin shows it (in English): a suppressed or missing count never reads as 0."""
    if volume.is_suppressed:
        return "under 11, suppressed by CMS" if volume.source == VolumeSource.CMS_MEDICARE else "suppressed by source"
    return "not given" if volume.count is None else str(volume.count)
