"""A real FHIR client (fhirpy, from PyPI) searches the live test server and reads what it gets."""

import pytest
from fhirpy import SyncFHIRClient

from directory.models import Specialty
from tests.factories import PracticeFactory, SpecialistFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def fhir(live_server):
    return SyncFHIRClient(f"{live_server.url}/fhir", extra_headers={"Accept": "application/fhir+json"})


def test_fhirpy_searches_roles_near_a_point_with_includes_and_pages(fhir):
    # Placed by hand: transactional tests flush the ZIP table, so centroids may be gone.
    chicago = PracticeFactory(name="Lakeshore Spine", latitude=41.8971, longitude=-87.6223, coordinates_source="manual")
    for index in range(3):
        SpecialistFactory(last_name=f"Near{index}", specialty=Specialty.PAIN_MEDICINE, practices=[chicago])
    SpecialistFactory(
        last_name="Far", practices=[PracticeFactory(latitude=33.45, longitude=-112.07, coordinates_source="manual")]
    )

    roles = (
        fhir.resources("PractitionerRole")
        .search(**{"location.near": "41.8947|-87.6205|20|[mi_i]"})
        .search(specialty="http://nucc.org/provider-taxonomy|208VP0000X")
        .include("PractitionerRole", "practitioner")
        .include("PractitionerRole", "location")
        .limit(2)
    )
    bundle = roles.fetch_raw()
    assert bundle["total"] == 3
    included = {e["resource"]["resourceType"] for e in bundle["entry"] if e["search"]["mode"] == "include"}
    assert included == {"Practitioner", "Location"}
    every = roles.fetch_all()  # follows the Bundle's next links
    assert len(every) == 3
    assert {role["practitioner"]["display"].split()[-2].rstrip(",") for role in every} == {"Near0", "Near1", "Near2"}

    practitioner = fhir.resources("Practitioner").search(family="Far").first()
    assert practitioner["name"][0]["family"] == "Far"
    read = fhir.reference("Practitioner", practitioner["id"]).to_resource()
    assert read["id"] == practitioner["id"]
    capability = fhir.execute("metadata", method="get")
    assert capability["fhirVersion"] == "4.0.1"
