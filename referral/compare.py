"""Compare two or three published specialists side by side: the form that picks them and what each column shows."""

from dataclasses import dataclass, field

from django import forms
from django.core.exceptions import ValidationError
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext, gettext_lazy

from directory.models import Procedure, Service, Specialist
from directory.volumes import format_period, source_label
from referral.matching import Match, match_specialist, profile_queryset
from referral.ranking import COUNTED_PROCEDURES, NO_SITUATION, Situation

MIN_COMPARED, MAX_COMPARED = 2, 3


class SpecialistIdsField(forms.Field):
    """The `ids` of the query string (?ids=4&ids=9): whole numbers, each once, two or three of them."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {
        "too_few": gettext_lazy("Choose two or three specialists to compare (tick them in the results)."),
        "too_many": gettext_lazy("Choose at most %(limit)d specialists to compare; you chose %(count)d."),
        "not_a_number": gettext_lazy("“%(value)s” is not a specialist number."),
    }

    def to_python(self, value):
        ids = []
        for raw in value or []:
            text = str(raw).strip()
            if not text:
                continue
            if not text.isdigit() or len(text) > 18:
                raise ValidationError(self.error_messages["not_a_number"], "not_a_number", {"value": text[:20]})
            ids.append(int(text))
        return list(dict.fromkeys(ids))  # each once, in the order chosen

    def validate(self, ids):
        if len(ids) < MIN_COMPARED:
            raise ValidationError(self.error_messages["too_few"], "too_few")
        if len(ids) > MAX_COMPARED:
            raise ValidationError(
                self.error_messages["too_many"], "too_many", {"count": len(ids), "limit": MAX_COMPARED}
            )


class CompareForm(forms.Form):
    ids = SpecialistIdsField(label=gettext_lazy("Specialists"))

    def clean_ids(self):
        """Return the chosen Specialist objects (published ones only), in the order chosen."""
        ids = self.cleaned_data["ids"]
        found = profile_queryset().in_bulk(ids)
        missing = [str(pk) for pk in ids if pk not in found]
        if missing:
            raise ValidationError(
                gettext("Not in the directory (or no longer published): specialist %(ids)s."),
                code="unknown",
                params={"ids": ", ".join(missing)},
            )
        return [found[pk] for pk in ids]


@dataclass
class CountCell:
    """One past-year count as the comparison shows it: never a 0 for a missing or withheld count."""

    text: str  # "34", "Not published by CMS Medicare", "No past-year count"
    detail: str = ""  # "Jan–Dec 2025, self-reported, verified"
    known: bool = False


@dataclass
class Column:
    specialist: Specialist
    match: Match | None  # with an origin: distance, score, reasons
    counts: list[CountCell] = field(default_factory=list)  # in COUNTED_PROCEDURES order
    services: list[bool] = field(default_factory=list)  # in Service order
    insurance: str = ""  # what each practice confirmed it accepts, or that it is not on file


def count_cell(volume) -> CountCell:
    if volume is None:
        return CountCell(gettext("No past-year count"))
    detail = ", ".join(
        [
            format_period(volume.period_start, volume.period_end),
            source_label(volume.source),
            gettext("verified") if volume.verified else gettext("not verified"),
        ]
    )
    if volume.count is None:
        return CountCell(gettext("Not published (the source withholds small counts)"), detail)
    return CountCell(number_format(volume.count, force_grouping=True), detail, known=True)


def insurance_text(specialist: Specialist) -> str:
    """Return what each practice confirmed it accepts (prefetched), naming the practice when there are several."""
    practices = list(specialist.practices.all())
    lines = []
    for practice in practices:
        if not practice.insurance_known:
            text = gettext("Not on file: ask the office")
        else:
            names = ", ".join(entry.display_name for entry in practice.insurance.all()) or gettext(
                "None of the listed insurance"
            )
            text = gettext("%(names)s (confirmed %(date)s)") % {
                "names": names,
                "date": date_format(practice.insurance_confirmed_on),
            }
        lines.append(f"{practice.name}: {text}" if len(practices) > 1 else text)
    return "; ".join(lines) or gettext("Not on file: ask the office")


def compare_columns(specialists, *, origin=None, situation: Situation = NO_SITUATION) -> list[Column]:
    """Return one Column per specialist (prefetched by profile_queryset), explained for the origin if given."""
    return [
        Column(
            specialist=specialist,
            match=match_specialist(specialist=specialist, origin=origin, situation=situation) if origin else None,
            counts=[count_cell(specialist.past_year_volume(procedure)) for procedure in COUNTED_PROCEDURES],
            services=[getattr(specialist, service.value) for service in Service],
            insurance=insurance_text(specialist),
        )
        for specialist in specialists
    ]


def count_rows(columns: list[Column]) -> list[tuple[str, list[CountCell]]]:
    """Return [(procedure label, [the count cell of each column])], one row per counted procedure."""
    return [
        (Procedure(procedure).label, [column.counts[index] for column in columns])
        for index, procedure in enumerate(COUNTED_PROCEDURES)
    ]


def service_rows(columns: list[Column]) -> list[tuple[str, list[bool]]]:
    """Return [(service label, [offered by each column])], one row per SI-joint service."""
    return [(service.label, [column.services[index] for column in columns]) for index, service in enumerate(Service)]
