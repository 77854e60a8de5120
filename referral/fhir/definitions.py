"""The project's own FHIR conformance resources, served at their canonical URLs under /fhir/ (docs/fhir.md).

Four CodeSystems (SI-joint services, procedure families, count sources, the curated insurance list) and three
extensions (a specialist's past-year count of one procedure; a shortlist entry's note, reasons and distance; the
insurance a practice accepts). Built from the model choices (and the Insurance table), so a new Service or
Procedure appears here without a second list.
"""

from directory.models import PROCEDURE_CODES, Insurance, Procedure, Service, VolumeSource
from referral.fhir import terminology as t

VERSION = "1.0.0"
PUBLISHER = "SIJ Finder"
DATE = "2026-12-01"


def code_system(artifact_id, name, title, description, concepts) -> dict:
    return {
        "resourceType": "CodeSystem",
        "id": artifact_id,
        "url": t.canonical("CodeSystem", artifact_id),
        "version": VERSION,
        "name": name,
        "title": title,
        "status": "active",
        "experimental": False,
        "date": DATE,
        "publisher": PUBLISHER,
        "description": description,
        "caseSensitive": True,
        "content": "complete",
        "count": len(concepts),
        "concept": concepts,
    }


def services_code_system() -> dict:
    return code_system(
        t.SERVICES_CS,
        "SijServices",
        "SI-joint services",
        "What an SI-joint specialist offers, as recorded by SIJ Finder's curators (HealthcareService.type).",
        [
            {
                "code": t.service_code(service),
                "display": str(service.label),
                "definition": f"The specialist: {service.label}.",
            }
            for service in Service
        ],
    )


def procedures_code_system() -> dict:
    return code_system(
        t.PROCEDURES_CS,
        "SijProcedures",
        "SI-joint procedure families",
        "Procedure families SIJ Finder counts; each definition lists the CPT/HCPCS codes the family counts.",
        [
            {
                "code": t.procedure_code(procedure),
                "display": str(procedure.label),
                "definition": f"{procedure.label}: CPT/HCPCS {', '.join(PROCEDURE_CODES[procedure])}.",
            }
            for procedure in Procedure
        ],
    )


def sources_code_system() -> dict:
    return code_system(
        t.VOLUME_SOURCES_CS,
        "SijVolumeSources",
        "Sources of procedure counts",
        "Who reported a procedure count (CMS Medicare counts cover fee-for-service Medicare patients only).",
        [{"code": t.source_code(source), "display": str(source.label)} for source in VolumeSource],
    )


def _sub_extension(root, name, value_type, minimum, maximum, short, binding_url=None) -> list[dict]:
    element_id = f"{root}.extension:{name}"
    value = {
        "id": f"{element_id}.value[x]",
        "path": f"{root}.extension.value[x]",
        "min": 1,
        "type": [{"code": value_type}],
    }
    if binding_url:
        value["short"] = f"A code from {binding_url}"
    return [
        {
            "id": element_id,
            "path": f"{root}.extension",
            "sliceName": name,
            "short": short,
            "definition": short,
            "min": minimum,
            "max": maximum,
        },
        {"id": f"{element_id}.extension", "path": f"{root}.extension.extension", "max": "0"},
        {"id": f"{element_id}.url", "path": f"{root}.extension.url", "fixedUri": name},
        value,
    ]


def complex_extension(artifact_id, name, title, description, context, parts) -> dict:
    url = t.canonical("StructureDefinition", artifact_id)
    elements = [
        {"id": "Extension", "path": "Extension", "short": title, "definition": description, "min": 0, "max": "*"},
        {
            "id": "Extension.extension",
            "path": "Extension.extension",
            "slicing": {"discriminator": [{"type": "value", "path": "url"}], "rules": "closed"},
        },
    ]
    for part in parts:
        elements += _sub_extension("Extension", *part)
    elements += [
        {"id": "Extension.url", "path": "Extension.url", "fixedUri": url},
        {"id": "Extension.value[x]", "path": "Extension.value[x]", "max": "0"},
    ]
    return {
        "resourceType": "StructureDefinition",
        "id": artifact_id,
        "url": url,
        "version": VERSION,
        "name": name,
        "title": title,
        "status": "active",
        "experimental": False,
        "date": DATE,
        "publisher": PUBLISHER,
        "description": description,
        "fhirVersion": t.FHIR_VERSION,
        "kind": "complex-type",
        "abstract": False,
        "context": [{"type": "element", "expression": expression} for expression in context],
        "type": "Extension",
        "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Extension",
        "derivation": "constraint",
        "differential": {"element": elements},
    }


def volume_extension() -> dict:
    return complex_extension(
        t.VOLUME_EXTENSION,
        "SijPastYearVolume",
        "Past-year procedure count",
        "How many of one SI-joint procedure family the specialist performed in the twelve-month period that stands "
        "for their past year, with the period, who reported it and whether SIJ Finder verified it. A count the "
        "source suppressed (small numbers) has no count and suppressed = true: it is never 0.",
        ["PractitionerRole"],
        [
            ("procedure", "CodeableConcept", 1, "1", "Procedure family", t.canonical("CodeSystem", t.PROCEDURES_CS)),
            ("count", "unsignedInt", 0, "1", "How many; absent when the source suppressed it"),
            ("suppressed", "boolean", 1, "1", "The source withheld a small count"),
            ("period", "Period", 1, "1", "The twelve months counted"),
            ("source", "Coding", 1, "1", "Who reported it", t.canonical("CodeSystem", t.VOLUME_SOURCES_CS)),
            ("verified", "boolean", 1, "1", "Verified by SIJ Finder's curators"),
        ],
    )


def entry_extension() -> dict:
    return complex_extension(
        t.ENTRY_EXTENSION,
        "SijShortlistEntry",
        "Shortlist entry",
        "What a referring physician's shortlist says about one specialist on it: the physician's note, the reasons "
        "the search gave for the match (most weight first) and the distance from the list's origin ZIP.",
        ["List.entry"],
        [
            ("note", "string", 0, "1", "The physician's note"),
            ("reason", "string", 0, "*", "A reason the search gave, most weight first"),
            ("distance", "Quantity", 0, "1", "Miles from the list's origin ZIP to the practice"),
        ],
    )


def insurance_code_system() -> dict:
    """The curated insurance list (a table curators extend, so read when asked, not a model choice)."""
    return code_system(
        t.INSURANCE_CS,
        "SijInsurance",
        "Insurance a practice may accept",
        "SIJ Finder's curated list of insurance programmes and carriers (not their individual plans or networks), "
        "as practices' offices name them to its curators. Codes are never reused.",
        [{"code": entry.code, "display": entry.name} for entry in Insurance.objects.all()],
    )


def insurance_extension() -> dict:
    return complex_extension(
        t.INSURANCE_EXTENSION,
        "SijAcceptedInsurance",
        "Insurance the practice accepts",
        "The insurance the practice's office told SIJ Finder's curators it accepts, and when. No insurance part "
        "means none of the listed insurance; no extension at all means the directory does not know (never read "
        "that as none). It names a programme or carrier, not a plan or network: patients confirm with the office. "
        "Plan-Net's network-reference is not used because the directory holds no payer networks.",
        ["Location"],
        [
            ("confirmed", "date", 1, "1", "When the office confirmed the list"),
            ("insurance", "Coding", 0, "*", "One accepted insurance", t.canonical("CodeSystem", t.INSURANCE_CS)),
        ],
    )


ARTIFACTS = {
    ("CodeSystem", t.SERVICES_CS): services_code_system,
    ("CodeSystem", t.PROCEDURES_CS): procedures_code_system,
    ("CodeSystem", t.VOLUME_SOURCES_CS): sources_code_system,
    ("StructureDefinition", t.VOLUME_EXTENSION): volume_extension,
    ("StructureDefinition", t.ENTRY_EXTENSION): entry_extension,
    ("CodeSystem", t.INSURANCE_CS): insurance_code_system,
    ("StructureDefinition", t.INSURANCE_EXTENSION): insurance_extension,
}
