"""The search form and the FilterSet: shared by the search page and the API (and the situation by shortlists)."""

import datetime

import pytest
from django.forms.renderers import DjangoTemplates
from django.http import QueryDict
from django.test.html import parse_html
from django.utils import timezone, translation

from directory.models import Procedure, Service, Specialist, Specialty
from referral.filters import SpecialistFilterSet
from referral.forms import DEFAULT_RADIUS, PAGE_RADIUS_CHOICES, ApiSearchForm, SearchForm, SituationForm
from referral.matching import find_specialists
from referral.ranking import Situation
from tests.factories import PracticeFactory, ProcedureVolumeFactory, SpecialistFactory

pytestmark = pytest.mark.django_db


def search(query: str, *, api: bool = False) -> SearchForm:
    return (ApiSearchForm if api else SearchForm)(QueryDict(query))


def filters(query: str) -> SpecialistFilterSet:
    return SpecialistFilterSet(QueryDict(query), queryset=Specialist.objects.all())


def run(query: str):
    """Run the search as the page does: the form and the FilterSet, then find_specialists()."""
    form, filterset = search(query), filters(query)
    assert form.is_valid(), form.errors
    assert filterset.is_valid(), filterset.errors
    return find_specialists(**form.search_arguments(), queryset=filterset.qs)


def found(query: str) -> list[int]:
    return [m.specialist.pk for m in run(query).matches]


def nearby(**kwargs):
    return SpecialistFactory(practices=[PracticeFactory(zip_code="60614")], **kwargs)


def test_valid_search_exposes_origin_radius_and_situation():
    form = search(
        "zip=60611-1234&radius=25&prior_lumbar_fusion=yes&conservative_months=8&diagnostic_injection=relieved"
    )
    assert form.is_valid(), form.errors
    assert form.origin.code == "60611"
    assert form.radius_miles == 25
    assert form.situation == Situation(prior_lumbar_fusion=True, conservative_months=8, diagnostic_injection="relieved")


def test_defaults():
    form = search("zip=60611")
    assert form.is_valid()
    assert form.radius_miles == DEFAULT_RADIUS == 50
    assert form.situation == Situation()
    result = run("zip=60611")
    assert (result.page, result.page_size, result.radius_miles) == (1, 20, 50)


def test_page_offers_the_radius_choices_with_50_chosen():
    form = search("zip=60611")
    assert [value for value, _label in form.fields["radius"].choices] == PAGE_RADIUS_CHOICES
    assert form["radius"].value() == "50"
    assert SearchForm().fields["radius"].initial == 50


@pytest.mark.parametrize(
    ("radius", "page_ok", "api_ok"),
    [
        ("10", True, True),
        ("7", False, True),
        ("250", True, True),
        ("500", False, True),
        ("501", False, False),
        ("0.5", False, False),
    ],
)
def test_page_takes_listed_radii_and_the_api_takes_1_to_500(radius, page_ok, api_ok):
    assert search(f"zip=60611&radius={radius}").is_valid() is page_ok
    assert search(f"zip=60611&radius={radius}", api=True).is_valid() is api_ok


def test_page_radius_error_is_plain():
    form = search("zip=60611&radius=7")
    assert form.errors == {"radius": ["Choose a radius of 10, 25, 50, 100 or 250 miles."]}


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("zip=", "zip", "Enter your 5-digit ZIP code."),
        ("zip=abcde", "zip", "ZIP codes have 5 digits (or ZIP+4, like 60611-1234)."),
        ("zip=00000", "zip", "No such US ZIP: 00000"),
        (
            "zip=60611&conservative_months=-1",
            "conservative_months",
            "Months of non-surgical care must be a whole number from 0 to 120.",
        ),
        (
            "zip=60611&diagnostic_injection=unknown",
            "diagnostic_injection",
            "Choose not_done, relieved or not_relieved.",
        ),
        ("zip=60611&page_size=0", "page_size", "Page size must be a whole number from 1 to 100."),
    ],
)
def test_errors_name_the_field(query, field, message):
    form = search(query)
    assert not form.is_valid()
    assert form.errors[field] == [message]


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("zip=60611&radius=٥٠", "radius", "Choose a radius of 10, 25, 50, 100 or 250 miles."),
        ("zip=60611&page=٢", "page", "Page must be a whole number from 1 to 100000."),
        ("zip=60611&page_size=２", "page_size", "Page size must be a whole number from 1 to 100."),
        ("zip=60611&conservative_months=٧", "conservative_months", "Months of non-surgical care must be"),
        ("zip=60611&min_mis_fusions=١٠", "min_mis_fusions", "Minimum past-year fusions must be"),
        ("zip=６０６１１", "zip", "ZIP codes have 5 digits (or ZIP+4, like 60611-1234)."),
    ],
)
@pytest.mark.parametrize("api", [False, True])
def test_numbers_take_only_ascii_digits(query, field, message, api):
    form = search(query, api=api)
    assert not form.is_valid()
    expected = "Radius must be a number of miles from 1 to 500." if api and field == "radius" else message
    assert form.errors[field][0].startswith(expected)


def test_api_radius_refuses_arabic_indic_digits():
    assert search("zip=60611&radius=٥٠", api=True).errors == {
        "radius": ["Radius must be a number of miles from 1 to 500."]
    }


def test_search_refuses_to_run_when_invalid():
    with pytest.raises(ValueError):
        search("zip=00000").search_arguments()


def test_search_form_and_filterset_of_nothing_are_not_valid():
    assert SearchForm().is_valid() is False
    assert SpecialistFilterSet().is_valid() is False


@pytest.mark.parametrize(
    ("data", "situation"),
    [
        ({}, Situation()),
        ({"prior_lumbar_fusion": True}, Situation(prior_lumbar_fusion=True)),
        ({"prior_lumbar_fusion": False, "conservative_months": 7}, Situation(False, 7)),
        ({"diagnostic_injection": "relieved", "conservative_months": None}, Situation(diagnostic_injection="relieved")),
    ],
)
def test_situation_form_reads_json(data, situation):
    form = SituationForm.from_json(data)
    assert form.is_valid(), form.errors
    assert form.situation == situation


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"conservative_months": 500}, "conservative_months"),
        ({"conservative_months": True}, "conservative_months"),
        ({"conservative_months": "٧"}, "conservative_months"),
        ({"conservative_months": [7]}, "conservative_months"),
        ({"diagnostic_injection": {"a": 1}}, "diagnostic_injection"),
        ({"prior_lumbar_fusion": "perhaps"}, "prior_lumbar_fusion"),
    ],
)
def test_situation_form_refuses_bad_json_values(data, field):
    form = SituationForm.from_json(data)
    assert not form.is_valid()
    assert list(form.errors) == [field]


def test_services_must_all_be_offered():
    both = nearby(offers_mis_si_fusion=True, offers_diagnostic_si_injection=True)
    nearby(offers_mis_si_fusion=True)
    query = f"zip=60611&service={Service.MIS_SI_FUSION.value}&service={Service.DIAGNOSTIC_SI_INJECTION.value}"
    assert found(query) == [both.pk]


def test_specialty_language_and_flags():
    match = nearby(specialty=Specialty.PMR, languages="English; Spanish", telehealth=True, accepting_new_patients=True)
    nearby(specialty=Specialty.PMR, languages="English", telehealth=True)
    nearby(specialty=Specialty.PMR, languages="Spanish", telehealth=False)
    nearby(specialty=Specialty.PMR, languages="Spanish", telehealth=True, accepting_new_patients=False)
    nearby(specialty=Specialty.NEUROSURGERY, languages="Spanish", telehealth=True)
    assert found("zip=60611&specialty=pmr&language=spanish&telehealth=on&accepting_new_patients=true") == [match.pk]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("on", True), ("1", True), ("yes", True), ("false", False), ("0", False), ("", False)],
)
def test_flags_read_checkbox_and_api_values(value, expected):
    filterset = filters(f"zip=60611&telehealth={value}")
    assert filterset.is_valid()
    assert filterset.form.cleaned_data["telehealth"] is expected


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("service=massage", "service", "Unknown service: massage."),
        ("specialty=dentistry", "specialty", "Unknown specialty: dentistry."),
        ("telehealth=perhaps", "telehealth", "Use true or false."),
        (f"language={'x' * 51}", "language", "Language is too long."),
    ],
)
def test_filter_errors_name_the_filter(query, field, message):
    filterset = filters(query)
    assert not filterset.is_valid()
    assert filterset.errors == {field: [message]}


def test_filterset_holds_only_filters():
    assert set(SpecialistFilterSet.base_filters) == {
        "service",
        "specialty",
        "accepting_new_patients",
        "telehealth",
        "speaks_spanish",
        "language",
    }


def test_false_flag_does_not_filter():
    without = nearby(telehealth=False)
    assert found("zip=60611&telehealth=false") == [without.pk]


def test_minimum_past_year_fusions():
    year = timezone.localdate().year - 1
    busy, quiet = nearby(), nearby()
    for specialist, count in ((busy, 20), (quiet, 2)):
        ProcedureVolumeFactory(
            specialist=specialist,
            procedure=Procedure.MIS_SI_FUSION,
            period_start=datetime.date(year, 1, 1),
            period_end=datetime.date(year, 12, 31),
            count=count,
        )
    assert found("zip=60611&min_mis_fusions=10") == [busy.pk]
    assert set(found("zip=60611&min_mis_fusions=0")) == {busy.pk, quiet.pk}


def test_sort_and_pages_pass_through():
    for _ in range(3):
        nearby()
    result = run("zip=60611&sort=distance&page=2&page_size=2")
    assert (result.count, len(result.matches), result.page, result.has_next) == (3, 1, 2, False)


def test_situation_from_the_query_changes_the_ranking():
    after_fusion = SpecialistFactory(
        practices=[PracticeFactory(zip_code="60540", city="Naperville")], treats_post_lumbar_fusion=True
    )
    close = nearby()
    assert found("zip=60611") == [close.pk, after_fusion.pk]
    assert found("zip=60611&prior_lumbar_fusion=yes") == [after_fusion.pk, close.pk]


@pytest.mark.parametrize(
    "query",
    [
        "",
        "zip=60611",
        "zip=60611&radius=100&sort=distance&prior_lumbar_fusion=yes&diagnostic_injection=confirmed",
        "zip=abc&radius=7&page=0",  # errors: aria-invalid and the error ids
        "zip=60611&service=offers_rf_ablation&service=offers_conservative_care&specialty=pmr&insurance=medicare"
        "&accepting_new_patients=on&telehealth=on&speaks_spanish=on&language=Polish",
        "zip=60611&service=nonsense&specialty=nonsense&accepting_new_patients=maybe",
    ],
)
@pytest.mark.parametrize("language", ["en", "es"])
def test_patient_forms_draw_the_same_widgets_as_djangos_own_engine(query, language):
    """The search forms draw their widgets with Jinja2 (speed); the HTML must be what Django's engine draws."""

    engine = DjangoTemplates()
    with translation.override(language):
        for form in (search(query), filters(query).form):
            form.is_valid()
            assert type(form.renderer).__name__ == "Jinja2"
            for name in form.fields:
                fast, reference = form[name], type(form)(form.data, renderer=engine)[name]
                reference.form.is_valid()
                for draw in (str, lambda field: field.label_tag(), lambda field: field.errors.as_ul()):
                    assert parse_html(draw(fast)) == parse_html(draw(reference)), (name, draw(fast))
