"""The one table of provider classifications: NUCC taxonomy codes (NPPES) and CMS provider types → Specialty.

NPPES lists up to 15 NUCC Health Care Provider Taxonomy codes per NPI; the CMS Medicare files give one
"provider type" per NPI in words. Both map to the directory's Specialty here, with the NUCC labels the admin,
the imports and the FHIR export show. The directory has no general orthopaedic surgery specialty: general
orthopaedic surgeons who do SI-joint work are filed under orthopaedic spine surgery, which is the nearest
(curators review every imported stub before it is published).
"""

from dataclasses import dataclass

from directory.models import Specialty

NUCC_SYSTEM = "http://nucc.org/provider-taxonomy"


@dataclass(frozen=True)
class Taxonomy:
    code: str
    label: str
    specialty: Specialty


# The NUCC taxonomies of the people SIJ Finder lists. The first code of each specialty is the one that
# stands for the specialty (taxonomy_for_specialty, the FHIR export).
TAXONOMY_LIST = [
    Taxonomy("207XS0117X", "Orthopaedic Surgery of the Spine", Specialty.ORTHOPAEDIC_SPINE),
    Taxonomy("207X00000X", "Orthopaedic Surgery", Specialty.ORTHOPAEDIC_SPINE),
    Taxonomy("207T00000X", "Neurological Surgery", Specialty.NEUROSURGERY),
    Taxonomy("208VP0000X", "Pain Medicine", Specialty.PAIN_MEDICINE),
    Taxonomy("208VP0014X", "Interventional Pain Medicine", Specialty.PAIN_MEDICINE),
    Taxonomy("207LP2900X", "Anesthesiology, Pain Medicine", Specialty.PAIN_MEDICINE),
    Taxonomy("208100000X", "Physical Medicine & Rehabilitation", Specialty.PMR),
    Taxonomy("2081P2900X", "Physical Medicine & Rehabilitation, Pain Medicine", Specialty.PMR),
    Taxonomy("2085R0204X", "Vascular & Interventional Radiology", Specialty.INTERVENTIONAL_RADIOLOGY),
]
TAXONOMIES = {taxonomy.code: taxonomy for taxonomy in TAXONOMY_LIST}

# CMS "Rndrng_Prvdr_Type" values (as CMS spells them, compared case-insensitively) → Specialty.
PROVIDER_TYPES = {
    "orthopedic surgery": Specialty.ORTHOPAEDIC_SPINE,
    "orthopaedic surgery": Specialty.ORTHOPAEDIC_SPINE,
    "spine surgery": Specialty.ORTHOPAEDIC_SPINE,
    "neurosurgery": Specialty.NEUROSURGERY,
    "neurological surgery": Specialty.NEUROSURGERY,
    "interventional pain management": Specialty.PAIN_MEDICINE,
    "pain management": Specialty.PAIN_MEDICINE,
    "pain medicine": Specialty.PAIN_MEDICINE,
    "anesthesiology": Specialty.PAIN_MEDICINE,
    "physical medicine and rehabilitation": Specialty.PMR,
    "interventional radiology": Specialty.INTERVENTIONAL_RADIOLOGY,
    "diagnostic radiology": Specialty.INTERVENTIONAL_RADIOLOGY,
}


def specialty_for_provider_type(provider_type: str) -> Specialty:
    """Return the Specialty of a CMS provider type ("Orthopedic Surgery"); OTHER when it is none of ours."""
    return PROVIDER_TYPES.get(" ".join(provider_type.split()).lower(), Specialty.OTHER)


def taxonomy_for_specialty(specialty: str) -> Taxonomy | None:
    """Return the NUCC taxonomy that stands for a Specialty (None for "other")."""
    return next((taxonomy for taxonomy in TAXONOMY_LIST if taxonomy.specialty == specialty), None)
