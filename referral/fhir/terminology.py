"""The FHIR code systems, codes and profile URLs the API and the shortlist export share: one home for each.

Every external code here was checked against Da Vinci PDex Plan-Net 1.2.0 (input/fsh of HL7/davinci-pdex-plan-net
at tag 1.2.0): the NUCC codes are in its IndividualAndGroupSpecialtiesVS (the required binding of
PractitionerRole.specialty and, through SpecialtiesVS, HealthcareService.specialty).
"""

import functools

from django.conf import settings
from django.utils import translation

from directory.models import Procedure, Service, Specialty, VolumeSource
from directory.taxonomy import NUCC_SYSTEM, taxonomy_for_specialty

FHIR_VERSION = "4.0.1"
PLAN_NET_VERSION = "1.2.0"
PLAN_NET = "http://hl7.org/fhir/us/davinci-pdex-plan-net"
PROFILE = {
    kind: f"{PLAN_NET}/StructureDefinition/plannet-{kind}"
    for kind in ("Practitioner", "PractitionerRole", "Location", "Organization", "HealthcareService")
}
NEW_PATIENTS_URL = f"{PLAN_NET}/StructureDefinition/newpatients"

NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
DEGREE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0360"  # in IndividualSpecialtyAndDegreeLicense…VS
PROVIDER_ROLE_SYSTEM = f"{PLAN_NET}/CodeSystem/ProviderRoleCS"
ORG_TYPE_SYSTEM = f"{PLAN_NET}/CodeSystem/OrgTypeCS"
SERVICE_CATEGORY_SYSTEM = f"{PLAN_NET}/CodeSystem/HealthcareServiceCategoryCS"
ACCEPTING_PATIENTS_SYSTEM = f"{PLAN_NET}/CodeSystem/AcceptingPatientsCS"
LIST_ORDER_SYSTEM = "http://terminology.hl7.org/CodeSystem/list-order"
CPT_SYSTEM = "http://www.ama-assn.org/go/cpt"

PHYSICIAN_ROLE = (PROVIDER_ROLE_SYSTEM, "ph", "Physician")
PROVIDER_GROUP = (ORG_TYPE_SYSTEM, "prvgrp", "Provider Group")
MEDICAL_PROVIDER = (SERVICE_CATEGORY_SYSTEM, "prov", "Medical Provider")
ACCEPTING = {
    True: (ACCEPTING_PATIENTS_SYSTEM, "newpt", "Accepting"),
    False: (ACCEPTING_PATIENTS_SYSTEM, "nopt", "Not Accepting"),
}


# NUCC Health Care Provider Taxonomy code of each specialty. "Other" is NUCC's 174400000X "Specialist", the
# taxonomy's own not-elsewhere-classified entry, because the binding is required: a text-only specialty is invalid.
def _nucc(specialty):
    taxonomy = taxonomy_for_specialty(specialty)  # the directory's one taxonomy table
    return (taxonomy.code, f"{taxonomy.label} Physician") if taxonomy else ("174400000X", "Specialist")


NUCC_TAXONOMY = {specialty: _nucc(specialty) for specialty in Specialty}
SPECIALTY_BY_NUCC = {code: specialty for specialty, (code, _display) in NUCC_TAXONOMY.items()}

# Credentials with an HL7 v2 table 0360 (degree) code; others (FAAOS, board certifications) stay text-only.
DEGREES = {
    "MD": "Doctor of Medicine",
    "DO": "Doctor of Osteopathy",
    "PHD": "Doctor of Philosophy",
    "PA": "Physician Assistant",
    "NP": "Nurse Practitioner",
    "RN": "Registered Nurse",
    "MPH": "Master of Public Health",
    "MBA": "Master of Business Administration",
}

# --- The project's own code systems and extensions (served by referral.fhir.views) ------------------------------


def canonical_base() -> str:
    """Return the base of the project's canonical URLs: this site's /fhir/ (SIJ_SITE_URL)."""
    return f"{settings.SIJ_SITE_URL}/fhir"


def canonical(kind: str, artifact_id: str) -> str:
    return f"{canonical_base()}/{kind}/{artifact_id}"


SERVICES_CS = "sij-services"
PROCEDURES_CS = "sij-procedures"
VOLUME_SOURCES_CS = "sij-volume-sources"
VOLUME_EXTENSION = "sij-past-year-volume"
ENTRY_EXTENSION = "sij-shortlist-entry"
INSURANCE_CS = "sij-insurance"
INSURANCE_EXTENSION = "sij-accepted-insurance"
DIRECTORY_ID_SYSTEM = "sij-specialist"  # NamingSystem-like id of the directory's own specialist identifiers


def service_code(service) -> str:
    return Service(service).value.removeprefix("offers_").replace("_", "-")


def procedure_code(procedure) -> str:
    return Procedure(procedure).value.replace("_", "-")


def source_code(source) -> str:
    return VolumeSource(source).value.replace("_", "-")


SERVICE_BY_CODE = {service_code(service): service for service in Service}


def directory_id_system() -> str:
    return f"{canonical_base()}/sid/{DIRECTORY_ID_SYSTEM}"


def coding(system_code_display) -> dict:
    system, code, display = system_code_display
    return {"system": system, "code": code, "display": display}


def concept(system_code_display, text=None) -> dict:
    result = {"coding": [coding(system_code_display)]}
    if text:
        result["text"] = text
    return result


@functools.cache
def _label(choice, language) -> str:
    return str(choice.label)


def label(choice) -> str:
    """The choice's label in the active language, translated once per process (a searchset shows hundreds)."""
    return _label(choice, translation.get_language())


def specialty_concept(specialty) -> dict:
    code, display = NUCC_TAXONOMY[Specialty(specialty)]
    return concept((NUCC_SYSTEM, code, display), label(Specialty(specialty)))


def service_concept(service) -> dict:
    text = label(Service(service))
    return concept((canonical("CodeSystem", SERVICES_CS), service_code(service), text), text)
