"""The patient search query string: one FilterSet for the search page and the JSON API."""

import django_filters
from django import forms
from django.core.exceptions import ValidationError

from directory.models import Service, Specialist, Specialty, ZipCode
from referral.matching import SORTS, SearchResult, find_specialists
from referral.ranking import DIAGNOSTIC_INJECTION_CHOICES, MAX_CONSERVATIVE_MONTHS, Situation

PAGE_RADIUS_CHOICES = [10, 25, 50, 100, 250]
DEFAULT_RADIUS = 50
API_MAX_RADIUS = 500
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
YES_NO_CHOICES = [("yes", "Yes"), ("no", "No")]
SORT_CHOICES = [("best", "Best match"), ("distance", "Nearest first")]
assert [value for value, _label in SORT_CHOICES] == list(SORTS)


class ZipCodeField(forms.CharField):
    """A ZIP5 or ZIP+4 that cleans to the ZipCode it names."""

    default_error_messages = {"required": "Enter your 5-digit ZIP code."}

    def __init__(self, **kwargs):
        super().__init__(max_length=None, strip=True, **kwargs)

    def clean(self, value):
        value = super().clean(value)
        if value in self.empty_values:
            return None
        if len(value) > 20:  # no ZIP is this long; don't echo long input back
            raise ValidationError("ZIP codes have 5 digits (or ZIP+4, like 60611-1234).", code="zip_format")
        return ZipCode.objects.for_input(value)


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
        raise ValidationError("Use true or false.", code="invalid")


def bounded_integer(label, minimum, maximum, **kwargs):
    """Return an IntegerField whose range errors name the range in plain words."""
    message = f"{label} must be a whole number from {minimum} to {maximum}."
    return forms.IntegerField(
        min_value=minimum,
        max_value=maximum,
        required=False,
        error_messages={"invalid": message, "min_value": message, "max_value": message},
        **kwargs,
    )


class FieldFilter(django_filters.Filter):
    """A filter that validates its value with a ready-made form field; `method` decides what it filters."""

    def __init__(self, form_field, *, method=None, label=None, help_text=None):
        self.form_field = form_field
        super().__init__(method=method or "keep", label=label or form_field.label, help_text=help_text)

    @property
    def field(self):
        if not hasattr(self, "_field"):
            self._field = self.form_field
            self._field.label = self.label
            self._field.help_text = self.extra.get("help_text") or self._field.help_text
        return self._field


def page_radius_field():
    return forms.TypedChoiceField(
        choices=[(miles, f"{miles} miles") for miles in PAGE_RADIUS_CHOICES],
        coerce=int,
        required=False,
        initial=DEFAULT_RADIUS,
        error_messages={"invalid_choice": "Choose a radius of 10, 25, 50, 100 or 250 miles."},
    )


def api_radius_field():
    message = f"Radius must be a number of miles from 1 to {API_MAX_RADIUS}."
    return forms.FloatField(
        min_value=1,
        max_value=API_MAX_RADIUS,
        required=False,
        error_messages={"invalid": message, "min_value": message, "max_value": message},
    )


class SpecialistSearch(django_filters.FilterSet):
    """Where the patient is, their situation, and what they need: validates and runs a search."""

    zip = FieldFilter(ZipCodeField(required=True), label="ZIP code", help_text="ZIP5 or ZIP+4")
    radius = FieldFilter(page_radius_field(), label="Within", help_text="Miles from the ZIP code")
    prior_lumbar_fusion = FieldFilter(
        forms.ChoiceField(
            choices=[("", "Not saying"), *YES_NO_CHOICES],
            required=False,
            error_messages={"invalid_choice": "Answer yes or no."},
        ),
        label="Have you had a lumbar (low-back) fusion?",
    )
    conservative_months = FieldFilter(
        bounded_integer("Months of non-surgical care", 0, MAX_CONSERVATIVE_MONTHS),
        label="Months of non-surgical care so far",
        help_text="Physical therapy, medication, injections, a pelvic belt…",
    )
    diagnostic_injection = FieldFilter(
        forms.ChoiceField(
            choices=[("", "Not saying"), *DIAGNOSTIC_INJECTION_CHOICES],
            required=False,
            error_messages={"invalid_choice": "Choose not_done, relieved or not_relieved."},
        ),
        label="Diagnostic SI-joint injection",
    )
    service = FieldFilter(
        forms.MultipleChoiceField(
            choices=Service.choices,
            required=False,
            widget=forms.CheckboxSelectMultiple,
            error_messages={"invalid_choice": "Unknown service: %(value)s."},
        ),
        method="filter_service",
        label="Offers",
    )
    specialty = FieldFilter(
        forms.ChoiceField(
            choices=[("", "Any specialty"), *Specialty.choices],
            required=False,
            error_messages={"invalid_choice": "Unknown specialty: %(value)s."},
        ),
        method="filter_specialty",
        label="Specialty",
    )
    accepting_new_patients = FieldFilter(
        FlagField(required=False),
        method="filter_accepting_new_patients",
        label="Accepting new patients",
    )
    telehealth = FieldFilter(
        FlagField(required=False),
        method="filter_telehealth",
        label="Offers telehealth",
    )
    language = FieldFilter(
        forms.CharField(required=False, max_length=50, error_messages={"max_length": "Language is too long."}),
        method="filter_language",
        label="Language",
    )
    min_mis_fusions = FieldFilter(
        bounded_integer("Minimum past-year fusions", 0, 10_000),
        label="At least this many minimally invasive SI-joint fusions in the past year",
    )
    sort = FieldFilter(
        forms.ChoiceField(
            choices=SORT_CHOICES, required=False, error_messages={"invalid_choice": "Sort by best or distance."}
        ),
        label="Order",
    )
    page = FieldFilter(bounded_integer("Page", 1, 100_000), label="Page")
    page_size = FieldFilter(bounded_integer("Page size", 1, MAX_PAGE_SIZE), label="Results per page")

    class Meta:
        model = Specialist
        fields = []

    def __init__(self, data=None, *, api: bool = False, queryset=None, **kwargs):
        if data is not None and not api and not data.get("radius"):
            data = data.copy()  # the page's radius select shows its default as chosen
            data["radius"] = str(DEFAULT_RADIUS)
        super().__init__(data, queryset=queryset, **kwargs)
        self.api = api
        if api:
            self.filters["radius"] = FieldFilter(api_radius_field(), label="Radius", help_text="Miles, 1–500")
            self.filters["radius"].model, self.filters["radius"].parent = Specialist, self

    # Inputs that shape the search rather than the queryset pass through unchanged.
    def keep(self, queryset, name, value):
        return queryset

    def filter_service(self, queryset, name, value):
        return queryset.offering(*value)

    def filter_specialty(self, queryset, name, value):
        return queryset.filter(specialty=value)

    def filter_accepting_new_patients(self, queryset, name, value):
        return queryset.filter(accepting_new_patients=True) if value else queryset

    def filter_telehealth(self, queryset, name, value):
        return queryset.filter(telehealth=True) if value else queryset

    def filter_language(self, queryset, name, value):
        return queryset.filter(languages__icontains=value.strip())

    @property
    def situation(self) -> Situation:
        """Return the patient's situation from the cleaned data (empty when invalid)."""
        data = self.form.cleaned_data if self.is_valid() else {}
        fusion = data.get("prior_lumbar_fusion")
        return Situation(
            prior_lumbar_fusion={"yes": True, "no": False}.get(fusion),
            conservative_months=data.get("conservative_months"),
            diagnostic_injection=data.get("diagnostic_injection") or None,
        )

    @property
    def origin(self) -> ZipCode | None:
        return self.form.cleaned_data.get("zip") if self.is_valid() else None

    @property
    def radius_miles(self) -> float:
        radius = self.form.cleaned_data.get("radius") if self.is_valid() else None
        return float(radius) if radius is not None else float(DEFAULT_RADIUS)

    def search(self) -> SearchResult:
        """Run the search; call only when is_valid()."""
        if not self.is_valid():
            raise ValueError("The search is not valid; check .errors first.")
        data = self.form.cleaned_data
        return find_specialists(
            origin=data["zip"],
            radius_miles=self.radius_miles,
            situation=self.situation,
            queryset=self.qs,
            sort=data.get("sort") or "best",
            page=data.get("page") or 1,
            page_size=data.get("page_size") or DEFAULT_PAGE_SIZE,
            min_mis_fusions=data.get("min_mis_fusions") or None,
        )
