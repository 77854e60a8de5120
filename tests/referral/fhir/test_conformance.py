"""The project's Plan-Net / US Core rule check: it passes what we build and catches what breaks a rule."""

import copy

import pytest

from referral.fhir import conformance
from referral.fhir import resources as r
from tests.factories import PracticeFactory, SpecialistFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def role():
    specialist = SpecialistFactory(offers_diagnostic_si_injection=True)
    return r.practitioner_role(specialist, specialist.practices.get(), r.relative_ref)


def broken(resource, change):
    resource = copy.deepcopy(resource)
    change(resource)
    return conformance.check(resource)


def test_a_built_role_passes(role):
    assert conformance.check(role) == []


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        (lambda res: res.pop("telecom"), "pd-1"),
        (lambda res: res["specialty"].__setitem__(0, {"text": "Other"}), "specialty[0]: required binding"),
        (lambda res: res["specialty"][0]["coding"][0].__setitem__("code", "999999999X"), "required binding"),
        (lambda res: res.__setitem__("active", False), "active"),
        (lambda res: res["meta"].pop("lastUpdated"), "meta.lastUpdated"),
        (lambda res: res["meta"].__setitem__("profile", []), "meta.profile"),
        (lambda res: res.pop("extension"), "newpatients"),
        (
            lambda res: res["extension"][0]["extension"][0].__setitem__("valueCodeableConcept", {"text": "yes"}),
            "AcceptingPatientsVS",
        ),
        (lambda res: res["telecom"][0].pop("system"), "telecom[0]"),
        (
            lambda res: [
                res.pop(key, None) for key in ("practitioner", "organization", "location", "healthcareService")
            ],
            "us-core-13",
        ),
    ],
)
def test_a_broken_role_is_caught(role, change, rule):
    errors = broken(role, change)
    assert any(rule in error for error in errors), errors


def test_broken_practitioner_organization_location_and_service_are_caught():
    specialist = SpecialistFactory(npi=None, offers_mis_si_fusion=True)
    practice = specialist.practices.get()
    practitioner = r.practitioner(specialist)
    assert any("identifier" in e for e in broken(practitioner, lambda res: res.pop("identifier")))
    assert any("family" in e for e in broken(practitioner, lambda res: res["name"][0].pop("family")))
    organization = r.organization(practice)
    assert any("type" in e for e in broken(organization, lambda res: res.pop("type")))
    assert any("address" in e for e in broken(organization, lambda res: res.pop("address")))
    location = r.location(practice, r.relative_ref)
    assert any("mode" in e for e in broken(location, lambda res: res.__setitem__("mode", "instance")))
    assert any(
        "0,0" in e for e in broken(location, lambda res: res.__setitem__("position", {"latitude": 0, "longitude": 0}))
    )
    service = r.healthcare_service(specialist, practice, r.relative_ref)
    assert conformance.check(service) == []
    assert any("category" in e for e in broken(service, lambda res: res.pop("category")))
    assert any("type[0]" in e for e in broken(service, lambda res: res["type"].__setitem__(0, {"text": "fusion"})))


def test_a_bundle_with_a_dangling_reference_is_caught():
    specialist = SpecialistFactory(practices=[PracticeFactory()])
    role = r.practitioner_role(specialist, specialist.practices.get(), r.relative_ref)
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"fullUrl": "urn:uuid:x", "resource": role}]}
    errors = conformance.check(bundle)
    assert any("is not in the bundle" in error for error in errors)
