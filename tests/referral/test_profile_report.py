"""Report a problem: from a public profile anyone can say a phone is wrong, a practice moved or a specialist retired."""

import pytest
from django.core.cache import cache
from django.urls import reverse

from directory.models import ProfileReport, ReportProblem, ReportStatus
from tests.factories import PracticeFactory, SpecialistFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()  # the rate-limit counters live in the cache
    yield
    cache.clear()


def report_url(specialist):
    return reverse("referral:specialist-report", args=[specialist.pk])


def test_profile_shows_a_short_report_form_without_personal_fields(client):
    specialist = SpecialistFactory()
    html = client.get(specialist.get_absolute_url()).content.decode()
    assert "Something wrong on this profile?" in html
    assert f'action="{report_url(specialist)}"' in html and 'method="post"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    for problem in ReportProblem:
        assert f'value="{problem.value}"' in html
    assert 'maxlength="500"' in html
    for personal in ('name="email"', 'name="name"', 'name="phone"', 'type="email"'):
        assert personal not in html
    assert 'name="practice"' not in html  # one location: nothing to choose


def test_a_report_is_filed_with_no_trace_of_the_visitor_and_thanked(client):
    specialist = SpecialistFactory()
    response = client.post(
        report_url(specialist),
        {"problem": "wrong_phone", "details": "The number rings a pizzeria; the new one is 312-555-0199."},
        follow=True,
        REMOTE_ADDR="203.0.113.9",
    )
    assert response.redirect_chain == [(f"{specialist.get_absolute_url()}#report-title", 302)]
    assert "Thank you. Our curators will check this profile." in response.content.decode()
    report = ProfileReport.objects.get()
    assert (report.specialist, report.problem, report.status) == (specialist, "wrong_phone", ReportStatus.OPEN)
    assert report.practice == specialist.practices.get()  # the only location
    stored = " ".join(str(value) for value in ProfileReport.objects.values().get().values())
    assert "203.0.113.9" not in stored


def test_with_several_locations_the_visitor_may_say_which(client):
    near, far = PracticeFactory(name="Gold Coast Spine"), PracticeFactory(name="Evanston Spine")
    specialist = SpecialistFactory(practices=[near, far])
    html = client.get(specialist.get_absolute_url()).content.decode()
    assert 'name="practice"' in html and "Evanston Spine" in html
    client.post(report_url(specialist), {"problem": "moved", "practice": far.pk})
    assert ProfileReport.objects.get().practice == far
    other = PracticeFactory()
    response = client.post(report_url(specialist), {"problem": "moved", "practice": other.pk})
    assert response.status_code == 400
    assert "Choose one of this specialist" in response.content.decode()


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({}, "Choose what is wrong."),
        ({"problem": "is_rude"}, "Choose one of the listed problems."),
        ({"problem": "other", "details": "x" * 501}, "Please keep it to 500 characters (this one has 501)."),
    ],
)
def test_bad_reports_get_a_form_error_on_the_profile_never_a_500(client, data, error):
    specialist = SpecialistFactory()
    response = client.post(report_url(specialist), data)
    assert response.status_code == 400
    html = response.content.decode()
    assert error in html
    assert '<details class="report-details" open>' in html  # the form stays open with its errors
    assert not ProfileReport.objects.exists()


def test_reports_need_the_csrf_token(client):
    from django.test import Client

    specialist = SpecialistFactory()
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(report_url(specialist), {"problem": "retired"}).status_code == 403
    assert not ProfileReport.objects.exists()


def test_unpublished_or_unknown_profiles_cannot_be_reported(client):
    hidden = SpecialistFactory(is_published=False)
    assert client.post(report_url(hidden), {"problem": "retired"}).status_code == 404
    assert client.post(reverse("referral:specialist-report", args=[987654]), {"problem": "retired"}).status_code == 404
    assert client.get(report_url(SpecialistFactory())).status_code == 405


def test_reports_are_rate_limited_per_client_address(client, settings):
    settings.SIJ_REPORTS_PER_HOUR = 2
    specialist = SpecialistFactory()
    for _ in range(2):
        assert (
            client.post(report_url(specialist), {"problem": "retired"}, REMOTE_ADDR="198.51.100.7").status_code == 302
        )
    response = client.post(report_url(specialist), {"problem": "retired"}, REMOTE_ADDR="198.51.100.7")
    assert response.status_code == 429
    assert "You have sent several reports in the last hour" in response.content.decode()
    assert ProfileReport.objects.count() == 2
    # Another client is not held back by the first one.
    assert client.post(report_url(specialist), {"problem": "retired"}, REMOTE_ADDR="198.51.100.8").status_code == 302
