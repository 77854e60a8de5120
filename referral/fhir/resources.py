"""Plan-Net resources (plain FHIR R4 JSON dicts) built from the directory's models: pure, no queries.

Shared by the public API (referral.fhir.views) and the shortlist export (shortlists.exports.fhir). A practice is
both an Organization and a Location with the practice's id; a specialist at a practice is a PractitionerRole (and,
when they offer SI-joint services, a HealthcareService) with the id "<specialist id>-<practice id>". References are
made by `ref(kind, id)`, so the API writes "Practitioner/12" and a bundle writes its own urn:uuid fullUrls.
Callers prefetch `specialist.volumes`.
"""

import datetime
from collections.abc import Callable

from django.conf import settings

from directory.links import safe_url
from directory.models import Procedure, VolumeSource
from directory.volumes import select_past_year_volume
from referral.fhir import terminology as t

Ref = Callable[[str, str], str]


def relative_ref(kind: str, resource_id: str) -> str:
    return f"{kind}/{resource_id}"


def role_id(specialist_pk, practice_pk) -> str:
    return f"{specialist_pk}-{practice_pk}" if practice_pk else str(specialist_pk)


def instant(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def meta(kind: str, *moments) -> dict:
    return {"lastUpdated": instant(max(m for m in moments if m)), "profile": [t.PROFILE[kind]]}


def reference(ref: Ref, kind: str, resource_id, display=None) -> dict:
    result = {"reference": ref(kind, str(resource_id))}
    if display:
        result["display"] = display
    return result


def profile_url(specialist) -> str:
    return f"{settings.SIJ_SITE_URL}{specialist.get_absolute_url()}"


def qualifications(specialist) -> list[dict]:
    """Return the credentials ("MD, FAAOS") as qualifications, coded from HL7 table 0360 where a degree code exists."""
    result = []
    for credential in (part.strip() for part in specialist.credentials.split(",")):
        if not credential:
            continue
        key = credential.replace(".", "").upper()
        code = {"text": credential}
        if key in t.DEGREES:
            code["coding"] = [
                {"system": t.DEGREE_SYSTEM, "code": "PHD" if key == "PHD" else key, "display": t.DEGREES[key]}
            ]
        result.append({"code": code})
    return result


def practitioner(specialist) -> dict:
    name = {
        "use": "official",
        "text": specialist.full_name,
        "family": specialist.last_name,
        "given": [n for n in (specialist.first_name, specialist.middle_name) if n],
    }
    if specialist.credentials:
        name["suffix"] = [part.strip() for part in specialist.credentials.split(",") if part.strip()]
    # US Core requires an identifier: the NPI when known, and always the directory's own id.
    identifiers = [{"use": "official", "system": t.NPI_SYSTEM, "value": specialist.npi}] if specialist.npi else []
    identifiers.append({"use": "secondary", "system": t.directory_id_system(), "value": str(specialist.pk)})
    resource = {
        "resourceType": "Practitioner",
        "id": str(specialist.pk),
        "meta": meta("Practitioner", specialist.updated_at),
        "identifier": identifiers,
        "active": True,
        "name": [name],
    }
    if specialist.gender in ("F", "M", "X"):
        resource["gender"] = {"F": "female", "M": "male", "X": "other"}[specialist.gender]
    if quals := qualifications(specialist):
        resource["qualification"] = quals
    if specialist.language_list:
        resource["communication"] = [{"text": language} for language in specialist.language_list]
    return resource


def address(practice) -> dict:
    result = {"use": "work", "type": "physical"}
    if lines := [line for line in (practice.address_line1, practice.address_line2) if line]:
        result["line"] = lines
    for key, value in (("city", practice.city), ("state", practice.state), ("postalCode", practice.zip_code)):
        if value:
            result[key] = value
    result["country"] = "US"
    if text := practice.address:
        result["text"] = text
    return result


def phones(practice) -> list[dict]:
    return [{"system": "phone", "value": practice.phone, "use": "work"}] if practice and practice.phone else []


def organization(practice) -> dict:
    resource = {
        "resourceType": "Organization",
        "id": str(practice.pk),
        "meta": meta("Organization", practice.updated_at),
        "active": True,
        "type": [t.concept(t.PROVIDER_GROUP)],
        "name": practice.name,
        "address": [address(practice)],
    }
    if telecom := phones(practice):
        resource["telecom"] = telecom
    return resource


def location(practice, ref: Ref) -> dict:
    resource = {
        "resourceType": "Location",
        "id": str(practice.pk),
        "meta": meta("Location", practice.updated_at),
        "status": "active",
        "name": practice.name,
        "address": address(practice),
        "managingOrganization": reference(ref, "Organization", practice.pk, practice.name),
    }
    if telecom := phones(practice):
        resource["telecom"] = telecom
    if practice.point:
        resource["position"] = {"latitude": practice.latitude, "longitude": practice.longitude}
    if practice.insurance_known:
        resource["extension"] = [insurance_extension(practice)]
    return resource


def insurance_extension(practice) -> dict:
    """The practice's confirmed insurance (callers prefetch practice.insurance); no insurance part: none listed."""
    system = t.canonical("CodeSystem", t.INSURANCE_CS)
    return {
        "url": t.canonical("StructureDefinition", t.INSURANCE_EXTENSION),
        "extension": [
            {"url": "confirmed", "valueDate": practice.insurance_confirmed_on.isoformat()},
            *(
                {"url": "insurance", "valueCoding": {"system": system, "code": entry.code, "display": entry.name}}
                for entry in practice.insurance.all()
            ),
        ],
    }


def new_patients(specialist) -> dict:
    """Plan-Net's newpatients extension; its fromNetwork part is optional, and the directory has no networks."""
    return {
        "url": t.NEW_PATIENTS_URL,
        "extension": [
            {
                "url": "acceptingPatients",
                "valueCodeableConcept": t.concept(t.ACCEPTING[specialist.accepting_new_patients]),
            }
        ],
    }


def volume_extension(volume) -> dict:
    procedure = Procedure(volume.procedure)
    procedure_label = t.label(procedure)
    parts = [
        {
            "url": "procedure",
            "valueCodeableConcept": t.concept(
                (t.canonical("CodeSystem", t.PROCEDURES_CS), t.procedure_code(procedure), procedure_label),
                procedure_label,
            ),
        }
    ]
    if volume.count is not None:
        parts.append({"url": "count", "valueUnsignedInt": volume.count})
    parts += [
        {"url": "suppressed", "valueBoolean": volume.is_suppressed},
        {
            "url": "period",
            "valuePeriod": {"start": volume.period_start.isoformat(), "end": volume.period_end.isoformat()},
        },
        {
            "url": "source",
            "valueCoding": {
                "system": t.canonical("CodeSystem", t.VOLUME_SOURCES_CS),
                "code": t.source_code(volume.source),
                "display": t.label(VolumeSource(volume.source)),
            },
        },
        {"url": "verified", "valueBoolean": volume.verified},
    ]
    return {"url": t.canonical("StructureDefinition", t.VOLUME_EXTENSION), "extension": parts}


def past_year_volumes(specialist, *, today=None) -> list:
    """Return the count that stands for each procedure's past year, in Procedure order (prefetched volumes)."""
    volumes = list(specialist.volumes.all())
    present = {volume.procedure for volume in volumes}
    chosen = (select_past_year_volume(volumes, p, today=today) for p in Procedure if p in present)
    return [volume for volume in chosen if volume is not None]


def practitioner_role(specialist, practice, ref: Ref, *, today=None) -> dict:
    resource_id = role_id(specialist.pk, practice and practice.pk)
    extensions = [new_patients(specialist)]
    extensions += [volume_extension(volume) for volume in past_year_volumes(specialist, today=today)]
    resource = {
        "resourceType": "PractitionerRole",
        "id": resource_id,
        "meta": meta("PractitionerRole", specialist.updated_at, practice and practice.updated_at),
        "extension": extensions,
        "active": True,
        "practitioner": reference(ref, "Practitioner", specialist.pk, specialist.display_name),
        "code": [t.concept(t.PHYSICIAN_ROLE)],
        "specialty": [t.specialty_concept(specialist.specialty)],
    }
    if practice:
        resource["organization"] = reference(ref, "Organization", practice.pk, practice.name)
        resource["location"] = [reference(ref, "Location", practice.pk, practice.name)]
    if specialist.services:
        resource["healthcareService"] = [reference(ref, "HealthcareService", resource_id)]
    telecom = phones(practice)
    if website := safe_url(specialist.website):  # checked when shown: a javascript: URL never passes
        telecom.append({"system": "url", "value": website, "use": "work"})
    if not telecom:
        # pd-1 needs a contact point: without a phone or website, the directory's page about the specialist.
        telecom.append({"system": "url", "value": profile_url(specialist), "use": "work"})
    resource["telecom"] = telecom
    return resource


def healthcare_service(specialist, practice, ref: Ref) -> dict:
    """The specialist's SI-joint services at one practice (only for specialists who offer any)."""
    where = f" at {practice.name}" if practice else ""
    resource = {
        "resourceType": "HealthcareService",
        "id": role_id(specialist.pk, practice and practice.pk),
        "meta": meta("HealthcareService", specialist.updated_at, practice and practice.updated_at),
        "extension": [new_patients(specialist)],
        "active": True,
        "category": [t.concept(t.MEDICAL_PROVIDER)],
        "type": [t.service_concept(service) for service in specialist.services],
        "specialty": [t.specialty_concept(specialist.specialty)],
        "name": f"SI-joint care: {specialist.display_name}{where}",
        "appointmentRequired": True,
    }
    if practice:
        resource["providedBy"] = reference(ref, "Organization", practice.pk, practice.name)
        resource["location"] = [reference(ref, "Location", practice.pk, practice.name)]
        if telecom := phones(practice):
            resource["telecom"] = telecom
    if specialist.telehealth:
        resource["comment"] = "Offers telehealth appointments."
    return resource
