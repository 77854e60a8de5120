"""The patient search as forms: where the patient is and their situation (the filters are in filters.py).

`SituationForm` is the patient's situation alone: the search page, the API and the physicians' shortlists
all validate it with this one form. `SearchForm` (the page) and `ApiSearchForm` (the JSON API: any radius
from 1 to 500 miles) add the ZIP, the radius, the order and paging, and give `find_specialists` its arguments.
"""

from django import forms
from django.core.exceptions import ValidationError
from django.forms.renderers import Jinja2
from django.utils.functional import lazy
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from directory.models import Insurance, ZipCode
from referral.matching import SORTS
from referral.origins import search_origin
from referral.ranking import DIAGNOSTIC_INJECTION_CHOICES, MAX_CONSERVATIVE_MONTHS, Situation

PAGE_RADIUS_CHOICES = [10, 25, 50, 100, 250]
DEFAULT_RADIUS = 50
API_MAX_RADIUS = 500
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
YES_NO_CHOICES = [("yes", _("Yes")), ("no", _("No"))]
SORT_CHOICES = [("best", _("Best match")), ("distance", _("Nearest first"))]
assert [value for value, _label in SORT_CHOICES] == list(SORTS)


def ascii_text(value) -> str:
    """Return `value` as text; refuse non-ASCII digits such as "٥٠", which int() and float() would take."""
    text = str(value).strip()
    if not text.isascii():
        raise ValidationError("not ASCII", code="invalid")
    return text


class AsciiDigitsMixin:
    """Take only ASCII digits: Python's int() and float() also read Arabic-Indic and other digits."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            ascii_text(value)
        except ValidationError:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None
        return super().to_python(value)


class AsciiIntegerField(AsciiDigitsMixin, forms.IntegerField):
    pass


class AsciiFloatField(AsciiDigitsMixin, forms.FloatField):
    pass


class ZipCodeField(forms.CharField):
    """A ZIP5 or ZIP+4 that cleans to the ZipCode it names."""

    default_error_messages = {"required": _("Enter your 5-digit ZIP code.")}
    # A number pad on phones (ZIP+4 can be typed as nine digits) and the browser's saved postal code.
    widget = forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "postal-code"})

    def __init__(self, **kwargs):
        super().__init__(max_length=None, strip=True, **kwargs)

    def clean(self, value):
        value = super().clean(value)
        if value in self.empty_values:
            return None
        if len(value) > 20:  # no ZIP is this long; don't echo long input back
            raise ValidationError(_("ZIP codes have 5 digits (or ZIP+4, like 60611-1234)."), code="zip_format")
        return search_origin(value)


def bounded_integer(name, minimum, maximum, **kwargs):
    """Return an (ASCII-digit) IntegerField whose range errors name the range in plain words."""
    message = lazy(
        lambda: (
            gettext("%(name)s must be a whole number from %(minimum)s to %(maximum)s.")
            % {"name": name, "minimum": minimum, "maximum": maximum}
        ),
        str,
    )()
    return AsciiIntegerField(
        min_value=minimum,
        max_value=maximum,
        required=False,
        error_messages={"invalid": message, "min_value": message, "max_value": message},
        **kwargs,
    )


class InsuranceChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.display_name


class PatientForm(forms.Form):
    """A form of the patient search (the situation, the search, the FilterSet's filters).

    Its widgets are drawn by Django's Jinja2 form renderer, with the same widget templates as Django's own
    engine: a search page draws ~15 widgets with their options on every request, and in Django's engine that was a
    third of the page's CPU (one sub-template per option and per attribute list). The rest of the site, the admin
    included, keeps the default renderer (the admin's widgets exist only as Django templates).
    """

    default_renderer = Jinja2()


class SituationForm(PatientForm):
    """The patient's situation: nothing identifying, every answer optional."""

    prior_lumbar_fusion = forms.ChoiceField(
        label=_("Have you had a lumbar (low-back) fusion?"),
        choices=[("", _("Not saying")), *YES_NO_CHOICES],
        required=False,
        error_messages={"invalid_choice": _("Answer yes or no.")},
        help_text=_(
            "Why we ask: SI-joint pain is common after a low-back fusion, so specialists who treat it come first."
        ),
    )
    conservative_months = bounded_integer(
        _("Months of non-surgical care"),
        0,
        MAX_CONSERVATIVE_MONTHS,
        label=_("Months of non-surgical care so far"),
        help_text=_(
            "Physical therapy, medication, a pelvic belt… Why we ask: surgery is usually considered only after "
            "about six months of these; until then, specialists in non-surgical care come first."
        ),
    )
    diagnostic_injection = forms.ChoiceField(
        label=_("Diagnostic SI-joint injection"),
        choices=[("", _("Not saying")), *DIAGNOSTIC_INJECTION_CHOICES],
        required=False,
        error_messages={"invalid_choice": _("Choose not_done, relieved or not_relieved.")},
        help_text=_(
            "Why we ask: this test injection helps show whether the pain comes from the SI joint; if you have "
            "not had one, specialists who do it come first."
        ),
    )

    @classmethod
    def from_json(cls, data: dict) -> "SituationForm":
        """Bind a JSON situation ({"prior_lumbar_fusion": true, …}); null means not saying."""
        values = {}
        for key, value in data.items():
            if isinstance(value, bool):
                values[key] = "yes" if value else "no"
            elif value is not None:
                values[key] = value if isinstance(value, str | int) else object()  # anything else is invalid
        return cls(values)

    @property
    def situation(self) -> Situation:
        """Return the patient's situation from the cleaned data; call only when is_valid()."""
        data = self.cleaned_data
        return Situation(
            prior_lumbar_fusion={"yes": True, "no": False}.get(data.get("prior_lumbar_fusion")),
            conservative_months=data.get("conservative_months"),
            diagnostic_injection=data.get("diagnostic_injection") or None,
        )


def radius_label(miles: int) -> str:
    return lazy(lambda: gettext("%(miles)s miles") % {"miles": miles}, str)()


def page_radius_field():
    return forms.TypedChoiceField(
        label=pgettext_lazy("distance", "Within"),
        help_text=_("Miles from the ZIP code"),
        choices=[(miles, radius_label(miles)) for miles in PAGE_RADIUS_CHOICES],
        coerce=int,
        required=False,
        initial=DEFAULT_RADIUS,
        error_messages={"invalid_choice": _("Choose a radius of 10, 25, 50, 100 or 250 miles.")},
    )


class SearchForm(SituationForm):
    """The search page: ZIP, one of the listed radii, the situation, the order, the page; see filters.py."""

    zip = ZipCodeField(required=True, label=_("ZIP code"), help_text=_("ZIP5 or ZIP+4"))
    radius = page_radius_field()
    min_mis_fusions = bounded_integer(
        _("Minimum past-year fusions"),
        0,
        10_000,
        label=_("At least this many minimally invasive SI-joint fusions in the past year"),
    )
    # Here rather than in the FilterSet: a practice accepts insurance, not a specialist, so it narrows the
    # search index's (specialist, practice) rows, as the fusion count does (matching.scan_query).
    insurance = InsuranceChoiceField(
        label=_("Takes my insurance"),
        queryset=Insurance.objects.all(),
        to_field_name="code",
        required=False,
        empty_label=_("Any insurance"),
        help_text=_("As the office last confirmed it to us: confirm with the office before you go."),
        error_messages={"invalid_choice": _("Unknown insurance: use one of the listed codes.")},
    )
    sort = forms.ChoiceField(
        label=_("Order"),
        choices=SORT_CHOICES,
        required=False,
        error_messages={"invalid_choice": _("Sort by best or distance.")},
    )
    page = bounded_integer(_("Page"), 1, 100_000, label=_("Page"))
    page_size = bounded_integer(_("Page size"), 1, MAX_PAGE_SIZE, label=_("Results per page"))

    field_order = ["zip", "radius", "prior_lumbar_fusion", "conservative_months", "diagnostic_injection"]
    fill_default_radius = True  # the page's radius select shows its default as chosen

    def __init__(self, data=None, **kwargs):
        if data is not None and self.fill_default_radius and not data.get("radius"):
            data = data.copy()
            data["radius"] = str(DEFAULT_RADIUS)
        super().__init__(data, **kwargs)

    @property
    def origin(self) -> ZipCode:
        return self.cleaned_data["zip"]

    @property
    def radius_miles(self) -> float:
        radius = self.cleaned_data.get("radius")
        return float(radius) if radius is not None else float(DEFAULT_RADIUS)

    def search_arguments(self) -> dict:
        """Return the keyword arguments of find_specialists() (but the queryset); call only when is_valid()."""
        if not self.is_valid():
            raise ValueError("The search is not valid; check .errors first.")
        data = self.cleaned_data
        return {
            "origin": data["zip"],
            "radius_miles": self.radius_miles,
            "situation": self.situation,
            "sort": data.get("sort") or "best",
            "page": data.get("page") or 1,
            "page_size": data.get("page_size") or DEFAULT_PAGE_SIZE,
            "min_mis_fusions": data.get("min_mis_fusions") or None,
            "insurance": data.get("insurance"),
        }


class SharedFields(dict):
    """A search form's fields, shared by its instances instead of deep-copied into each (Django's default).

    Every search builds two forms, and the copies (about 370 objects: widgets, choices, messages) were about a
    twentieth of an API search's CPU. Nothing changes a field per request here: views and templates only read them.
    """

    def __deepcopy__(self, memo):
        return dict(self)


class ApiSearchForm(SearchForm):
    """The JSON API's search: like the page's, but any radius from 1 to 500 miles (default 50)."""

    radius = AsciiFloatField(
        label="Radius",
        help_text=f"Miles, 1–{API_MAX_RADIUS}",
        min_value=1,
        max_value=API_MAX_RADIUS,
        required=False,
        error_messages=dict.fromkeys(
            ("invalid", "min_value", "max_value"), f"Radius must be a number of miles from 1 to {API_MAX_RADIUS}."
        ),
    )
    fill_default_radius = False


SearchForm.base_fields = SharedFields(SearchForm.base_fields)
ApiSearchForm.base_fields = SharedFields(ApiSearchForm.base_fields)
