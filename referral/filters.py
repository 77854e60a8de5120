"""The filters of the patient search: one FilterSet for the search page and the JSON API.

Only what narrows the specialists lives here; the ZIP, radius, situation, order and paging shape the search
itself and are the form's (referral/forms.py).
"""

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from directory.models import Service, Specialist, Specialty
from referral.forms import PatientForm


class FlagCheckbox(forms.CheckboxInput):
    """A checkbox that hands the raw value to its field (so "false" in an API query means false)."""

    def value_from_datadict(self, data, files, name):
        return data.get(name)


class FlagField(forms.Field):
    """A yes/no filter: true/yes/on/1 or false/no/off/0 (a ticked checkbox sends "on")."""

    widget = FlagCheckbox
    TRUE, FALSE = {"true", "yes", "on", "1"}, {"false", "no", "off", "0", ""}

    def to_python(self, value):
        if value is None or isinstance(value, bool):
            return bool(value)
        text = str(value).strip().lower()
        if text in self.TRUE:
            return True
        if text in self.FALSE:
            return False
        raise ValidationError(_("Use true or false."), code="invalid")


@extend_schema_field(OpenApiTypes.BOOL)
class FlagFilter(django_filters.Filter):
    """Keep only rows where the boolean field is true when the flag is set; a false flag does not filter."""

    field_class = FlagField

    def filter(self, qs, value):
        return qs.filter(**{self.field_name: True}) if value else qs


class SpecialistFilterSet(django_filters.FilterSet):
    """What the patient needs from a specialist."""

    service = django_filters.MultipleChoiceFilter(
        label=_("Offers"),
        choices=Service.choices,
        widget=forms.CheckboxSelectMultiple,
        method="filter_service",
        error_messages={"invalid_choice": _("Unknown service: %(value)s.")},
    )
    specialty = django_filters.ChoiceFilter(
        label=_("Specialty"),
        choices=Specialty.choices,
        empty_label=_("Any specialty"),
        error_messages={"invalid_choice": _("Unknown specialty: %(value)s.")},
    )
    accepting_new_patients = FlagFilter(label=_("Accepting new patients"))
    telehealth = FlagFilter(label=_("Offers telehealth"))
    speaks_spanish = FlagFilter(label=_("Speaks Spanish"), method="filter_speaks_spanish")
    language = django_filters.CharFilter(
        label=_("Language"),
        field_name="languages",
        lookup_expr="icontains",
        max_length=50,
        error_messages={"max_length": _("Language is too long.")},
    )

    class Meta:
        model = Specialist
        fields = []
        form = PatientForm

    def filter_service(self, queryset, name, value):
        return queryset.offering(*value)

    def filter_speaks_spanish(self, queryset, name, value):
        return queryset.speaking_spanish() if value else queryset
