"""The PractitionerRole searchset's matches, order, total and queries, pinned against the plain definition.

The search finds roles through the published specialists' ids (referral.fhir.search.AnyOf) and counts and pages
them in one statement; whatever the query looks like, the answer must be the one of "every published role that
matches, by id".
"""

import datetime

import pytest
from django.http import QueryDict
from django.utils import timezone

from directory.models import Affiliation, Insurance, Practice, Specialty
from referral.fhir import terminology as t
from referral.fhir.search import search_bundle
from tests.factories import PracticeFactory, ProcedureVolumeFactory, SpecialistFactory

pytestmark = pytest.mark.django_db
BASE = "http://testserver/fhir/"
INCLUDES = ["practitioner", "location", "organization", "service"]


def nucc(specialty) -> str:
    return f"{t.NUCC_SYSTEM}|{t.NUCC_TAXONOMY[specialty][0]}"


def search(kind="PractitionerRole", **params) -> dict:
    query = QueryDict(mutable=True)
    for key, value in params.items():
        query.setlist(key, value if isinstance(value, list) else [value])
    return search_bundle(kind, query, base=BASE)


def matches(bundle) -> list[str]:
    return [e["resource"]["id"] for e in bundle["entry"] if e["search"]["mode"] == "match"]


def role_ids(affiliations) -> list[str]:
    return [f"{a.specialist_id}-{a.practice_id}" for a in sorted(affiliations, key=lambda a: a.pk)]


@pytest.fixture
def directory():
    """Published roles of three specialties, some specialists at two practices, and unpublished records of the
    same specialties (the bulk a search must skip), created interleaved so that ids do not follow specialty."""
    shared = PracticeFactory(name="Shared Spine")
    specialties = [Specialty.OTHER, Specialty.PMR, Specialty.ORTHOPAEDIC_SPINE]
    for number in range(12):
        specialty = specialties[number % 3]
        practices = [PracticeFactory()] + ([shared] if number % 4 == 0 else [])
        specialist = SpecialistFactory(specialty=specialty, practices=practices, offers_mis_si_fusion=number % 2 == 0)
        ProcedureVolumeFactory(specialist=specialist)
        SpecialistFactory(specialty=specialty, is_published=False, npi=None, practices=[PracticeFactory()])
    return shared


def published_roles(specialties=None):
    roles = Affiliation.objects.filter(specialist__is_published=True)
    if specialties is not None:
        roles = roles.filter(specialist__specialty__in=specialties)
    return list(roles)


def test_a_specialty_search_pages_through_every_published_role_of_it_by_id(directory):
    expected = role_ids(published_roles([Specialty.OTHER]))
    assert len(expected) == 5  # four specialists, one of them also at the shared practice
    seen, offset = [], 0
    while True:
        bundle = search(specialty=nucc(Specialty.OTHER), _count="2", _offset=str(offset))
        assert bundle["total"] == 5
        seen += matches(bundle)
        if not any(link["relation"] == "next" for link in bundle["link"]):
            break
        offset += 2
    assert seen == expected


def test_two_specialties_and_all_roles_in_id_order(directory):
    both = search(specialty=f"{nucc(Specialty.OTHER)},{nucc(Specialty.PMR)}", _count="100")
    assert matches(both) == role_ids(published_roles([Specialty.OTHER, Specialty.PMR]))
    assert both["total"] == 10
    everything = search(_count="100")
    assert matches(everything) == role_ids(published_roles())
    assert everything["total"] == 15
    assert matches(search(specialty=f"{t.NUCC_SYSTEM}|", _count="100")) == matches(everything)


def test_the_total_stands_past_the_last_page_and_with_count_zero(directory):
    past = search(specialty=nucc(Specialty.PMR), _offset="50")
    assert (matches(past), past["total"]) == ([], 5)
    assert any(link["relation"] == "previous" for link in past["link"])
    none_asked = search(specialty=nucc(Specialty.PMR), _count="0")
    assert (none_asked["entry"], none_asked["total"]) == ([], 5)
    nothing = search(specialty="http://example.org/other|208100000X")
    assert (nothing["entry"], nothing["total"]) == ([], 0)


def test_specialty_combines_with_the_other_parameters(directory):
    pmr = published_roles([Specialty.PMR])
    specialist_id = pmr[0].specialist_id
    by_both = search(specialty=nucc(Specialty.PMR), practitioner=f"Practitioner/{specialist_id}")
    assert matches(by_both) == role_ids(a for a in pmr if a.specialist_id == specialist_id)
    at_shared = search(specialty=nucc(Specialty.OTHER), organization=f"Organization/{directory.pk}")
    assert matches(at_shared) == role_ids(a for a in published_roles([Specialty.OTHER]) if a.practice == directory)
    assert len(matches(at_shared)) == 1
    # _lastUpdated: the later of the specialist's and the practice's change.
    long_ago = timezone.now() - datetime.timedelta(days=400)
    Practice.objects.update(updated_at=long_ago)
    type(pmr[0].specialist).objects.update(updated_at=long_ago)
    cutoff = (timezone.now() - datetime.timedelta(days=30)).date().isoformat()
    assert matches(search(specialty=nucc(Specialty.PMR), _lastUpdated=f"ge{cutoff}")) == []
    old = search(specialty=nucc(Specialty.PMR), _lastUpdated=f"lt{cutoff}", _count="100")
    assert matches(old) == role_ids(pmr)


def test_near_with_a_specialty_keeps_only_that_specialty_nearest_first(directory):
    from referral.search_index import refresh_search_entries

    refresh_search_entries()
    bundle = search(**{"location.near": "41.8947|-87.6205|10|[mi_i]", "specialty": nucc(Specialty.PMR)})
    assert sorted(matches(bundle)) == sorted(role_ids(published_roles([Specialty.PMR])))
    assert bundle["total"] == 5


def test_healthcare_services_by_specialty(directory):
    bundle = search("HealthcareService", specialty=nucc(Specialty.OTHER), _count="100")
    offering = [a for a in published_roles([Specialty.OTHER]) if a.specialist.services]
    assert matches(bundle) == role_ids(offering)
    assert bundle["total"] == len(offering) == 3


def test_a_page_of_roles_with_includes_takes_three_queries_four_with_insurance(directory, django_assert_num_queries):
    includes = [f"PractitionerRole:{name}" for name in INCLUDES]
    # The page's ids and the total, the page's rows, their counts.
    with django_assert_num_queries(3):
        bundle = search(specialty=nucc(Specialty.OTHER), _include=includes)
    kinds = sorted({e["resource"]["resourceType"] for e in bundle["entry"]})
    assert kinds == ["HealthcareService", "Location", "Organization", "Practitioner", "PractitionerRole"]
    assert len(matches(bundle)) == 5
    # A practice with confirmed insurance: its list too, in one more query for the page.
    directory.insurance_confirmed_on = timezone.localdate()
    directory.save()
    directory.insurance.set(Insurance.objects.filter(code="medicare"))
    with django_assert_num_queries(4):
        bundle = search(specialty=nucc(Specialty.OTHER), _include=includes)
    shared = next(e["resource"] for e in bundle["entry"] if e["fullUrl"] == f"{BASE}Location/{directory.pk}")
    codes = [part["valueCoding"]["code"] for part in shared["extension"][0]["extension"] if "valueCoding" in part]
    assert codes == ["medicare"]
    with django_assert_num_queries(3):  # no location included: no insurance read
        search(specialty=nucc(Specialty.OTHER), _include="PractitionerRole:practitioner")
