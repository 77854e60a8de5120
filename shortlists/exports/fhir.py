"""A shortlist as a FHIR R4 Bundle (type collection): a List in the physician's order, then Plan-Net resources.

The resources are the public API's (referral.fhir.resources), with urn:uuid references that resolve inside the
bundle. The List keeps what the physician made: the title, the situation and origin, and per entry (in order)
the note, the search's reasons and the distance, in the project's sij-shortlist-entry extension (docs/fhir.md).
"""

import json
import uuid

from django.utils import timezone

from referral.fhir import resources as r
from referral.fhir import terminology as t
from shortlists.exports import situation_lines

# A fixed namespace makes fullUrls stable: the same shortlist exports the same references.
FHIR_NAMESPACE = uuid.UUID("5b0e4a7e-8f3a-4a43-9d0f-3f6f8f1b6c11")


def full_url(kind: str, resource_id) -> str:
    return f"urn:uuid:{uuid.uuid5(FHIR_NAMESPACE, f'{kind}/{resource_id}')}"


def entry_extension(item) -> dict:
    parts = [{"url": "note", "valueString": item.note}] if item.note else []
    parts += [{"url": "reason", "valueString": reason} for reason in item.reasons]
    if item.distance_miles is not None:
        parts.append(
            {
                "url": "distance",
                "valueQuantity": {
                    "value": item.distance_miles,
                    "unit": "mi",
                    "system": "http://unitsofmeasure.org",
                    "code": "[mi_i]",
                },
            }
        )
    return {"url": t.canonical("StructureDefinition", t.ENTRY_EXTENSION), "extension": parts}


def list_resource(shortlist, items) -> dict:
    notes = [{"text": line} for line in situation_lines(shortlist)]
    if shortlist.origin_zip:
        radius = f" within {shortlist.radius_miles} miles" if shortlist.radius_miles else ""
        notes.append({"text": f"Built from a search at ZIP {shortlist.origin_zip}{radius}."})
    resource = {
        "resourceType": "List",
        "id": str(shortlist.pk),
        "meta": {"lastUpdated": r.instant(shortlist.updated_at)},
        "identifier": [{"system": "urn:sij-finder:shortlist", "value": str(shortlist.pk)}],
        "status": "current",
        "mode": "working",
        "title": shortlist.title,
        "date": r.instant(shortlist.updated_at),
        "orderedBy": t.concept((t.LIST_ORDER_SYSTEM, "user", "Sorted by User")),
        "entry": [],
    }
    if notes:
        resource["note"] = notes
    for item in items:
        entry = {"item": {"reference": full_url("PractitionerRole", r.role_id(item.specialist_id, item.practice_id))}}
        if (extension := entry_extension(item))["extension"]:
            entry["extension"] = [extension]
        resource["entry"].append(entry)
    return resource


def build_shortlist_bundle(shortlist, items, *, now=None) -> dict:
    """Return the Bundle: the List, then per item its Practitioner, PractitionerRole, HealthcareService, and
    once per practice its Organization and Location."""
    now = now or timezone.now()
    entries, seen = [], set()

    def add(resource):
        key = (resource["resourceType"], resource["id"])
        if key not in seen:
            seen.add(key)
            entries.append({"fullUrl": full_url(*key), "resource": resource})

    add(list_resource(shortlist, items))
    for item in items:
        specialist, practice = item.specialist, item.practice
        add(r.practitioner(specialist))
        add(r.practitioner_role(specialist, practice, full_url))
        if specialist.services:
            add(r.healthcare_service(specialist, practice, full_url))
        if practice:
            add(r.organization(practice))
            add(r.location(practice, full_url))
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid5(FHIR_NAMESPACE, f"Shortlist/{shortlist.pk}")),
        "meta": {"lastUpdated": r.instant(shortlist.updated_at)},
        "identifier": {"system": "urn:sij-finder:shortlist", "value": str(shortlist.pk)},
        "type": "collection",
        "timestamp": r.instant(now),
        "entry": entries,
    }


def write_shortlist_fhir(shortlist, items, file, *, now=None) -> None:
    json.dump(build_shortlist_bundle(shortlist, items, now=now), file, indent=2, ensure_ascii=False)
