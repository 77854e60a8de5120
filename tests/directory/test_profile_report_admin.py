"""Curators work through the problem reports in the admin; a resolution lands in the specialist's history."""

import pytest
from django.urls import reverse

from directory.models import ProfileReport, ReportStatus
from tests.factories import SpecialistFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:directory_profilereport_changelist")


def change_url(report):
    return reverse("admin:directory_profilereport_change", args=[report.pk])


def resolution_data(**overrides):
    return {"status": "resolved", "resolution_note": "Called the office: new number 312-555-0199.", **overrides}


def test_the_list_shows_open_reports_by_default(curator_client):
    specialist = SpecialistFactory(first_name="Ada", last_name="Open")
    open_report = ProfileReport.objects.create(specialist=specialist, problem="wrong_phone", details="rings out")
    done = ProfileReport.objects.create(specialist=specialist, problem="moved")
    done.resolve(by=None, note="fixed")
    html = curator_client.get(CHANGELIST).content.decode()
    assert change_url(open_report) in html and change_url(done) not in html
    assert "Ada Open" in html and "rings out" in html
    assert change_url(done) in curator_client.get(CHANGELIST, {"status": "resolved"}).content.decode()
    assert reverse("admin:directory_profilereport_add") not in html  # visitors file them, not curators


def test_resolving_needs_a_note(curator_client):
    report = ProfileReport.objects.create(specialist=SpecialistFactory(), problem="retired")
    response = curator_client.post(change_url(report), resolution_data(resolution_note="  "))
    assert response.status_code == 200
    assert "Say what was checked or changed" in response.content.decode()
    report.refresh_from_db()
    assert report.status == ReportStatus.OPEN


def test_resolving_records_who_when_and_names_the_report_in_the_profile_history(curator_client, curator):
    specialist = SpecialistFactory()
    report = ProfileReport.objects.create(specialist=specialist, problem="wrong_phone")
    response = curator_client.post(change_url(report), resolution_data())
    assert response.status_code == 302
    report.refresh_from_db()
    assert report.status == ReportStatus.RESOLVED
    assert report.resolved_by == curator and report.resolved_at is not None
    latest = specialist.history.first()
    assert latest.history_change_reason.startswith(f"Problem report #{report.pk} resolved (the phone number is wrong)")
    assert latest.history_user == curator
    history = curator_client.get(reverse("admin:directory_specialist_history", args=[specialist.pk]))
    assert f"Problem report #{report.pk} resolved" in history.content.decode()


def test_a_long_resolution_note_is_kept_whole_on_the_report_and_shortened_in_the_history(curator_client):
    specialist = SpecialistFactory()
    report = ProfileReport.objects.create(specialist=specialist, problem="moved")
    note = "Moved to 1 W Superior St; " * 10
    curator_client.post(change_url(report), resolution_data(resolution_note=note))
    report.refresh_from_db()
    assert report.resolution_note == note.strip()
    reason = specialist.history.first().history_change_reason
    assert len(reason) == 100 and reason.endswith("…")


def test_reopening_clears_the_resolution_time(curator_client):
    report = ProfileReport.objects.create(specialist=SpecialistFactory(), problem="moved")
    report.resolve(by=None, note="fixed")
    curator_client.post(change_url(report), {"status": "open", "resolution_note": "Not fixed after all"})
    report.refresh_from_db()
    assert report.status == ReportStatus.OPEN and report.resolved_at is None and report.resolved_by is None
