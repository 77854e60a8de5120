import pytest

from directory.importers.names import case_address, case_name
from directory.models import Specialty
from directory.taxonomy import TAXONOMIES, specialty_for_provider_type, taxonomy_for_specialty


@pytest.mark.parametrize(
    ("raw", "cased"),
    [
        ("O'DONNELL", "O'Donnell"),
        ("MCDONALD", "McDonald"),
        ("SMITH-JONES", "Smith-Jones"),
        ("VAN DER BERG", "van der Berg"),
        ("DE LA CRUZ", "de la Cruz"),
        ("D'ANGELO-MCKAY", "D'Angelo-McKay"),
        ("JANE", "Jane"),
        ("Q", "Q"),
        ("SMITH III", "Smith III"),
        ("  MARY   ANN  ", "Mary Ann"),
        ("mcintyre", "McIntyre"),
        ("MACK", "Mack"),
        ("DeLuca", "DeLuca"),  # mixed case is someone's spelling: kept
        ("McDonald", "McDonald"),
        ("", ""),
    ],
)
def test_names_are_cased_as_people_write_them(raw, cased):
    assert case_name(raw) == cased


@pytest.mark.parametrize(
    ("raw", "cased"),
    [
        ("1200 N STATE ST", "1200 N State St"),
        ("500 NW 1ST AVE", "500 NW 1st Ave"),
        ("PO BOX 100", "PO Box 100"),
        ("ST MARY'S PLAZA", "St Mary's Plaza"),
        ("CHICAGO", "Chicago"),
        ("Suite 400", "Suite 400"),
    ],
)
def test_addresses_are_cased_as_people_write_them(raw, cased):
    assert case_address(raw) == cased


@pytest.mark.parametrize(
    ("provider_type", "specialty"),
    [
        ("Orthopedic Surgery", Specialty.ORTHOPAEDIC_SPINE),
        ("ORTHOPEDIC SURGERY", Specialty.ORTHOPAEDIC_SPINE),
        ("Neurosurgery", Specialty.NEUROSURGERY),
        ("Interventional Pain Management", Specialty.PAIN_MEDICINE),
        ("Anesthesiology", Specialty.PAIN_MEDICINE),
        ("Physical Medicine and Rehabilitation", Specialty.PMR),
        ("Diagnostic Radiology", Specialty.INTERVENTIONAL_RADIOLOGY),
        ("Family Practice", Specialty.OTHER),
        ("", Specialty.OTHER),
    ],
)
def test_cms_provider_types_map_to_the_directory_specialties(provider_type, specialty):
    assert specialty_for_provider_type(provider_type) == specialty


def test_every_nucc_taxonomy_has_a_label_and_a_specialty_and_each_specialty_one_code():
    assert TAXONOMIES["207X00000X"].specialty == Specialty.ORTHOPAEDIC_SPINE  # "Orthopaedic Surgery" is not other
    assert all(taxonomy.label and taxonomy.specialty != Specialty.OTHER for taxonomy in TAXONOMIES.values())
    assert {specialty: taxonomy_for_specialty(specialty).code for specialty in Specialty if specialty != "other"} == {
        Specialty.ORTHOPAEDIC_SPINE: "207XS0117X",
        Specialty.NEUROSURGERY: "207T00000X",
        Specialty.PAIN_MEDICINE: "208VP0000X",
        Specialty.PMR: "208100000X",
        Specialty.INTERVENTIONAL_RADIOLOGY: "2085R0204X",
    }
    assert taxonomy_for_specialty(Specialty.OTHER) is None
