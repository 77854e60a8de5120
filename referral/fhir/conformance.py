"""A check of the Plan-Net 1.2.0 / US Core rules this project's FHIR resources promise to meet.

Not a full profile validator (that needs the HL7 Java validator and the IG packages): it checks the rules the
resources here could break: required elements and fixed values, required bindings (NUCC specialty, Plan-Net
category and accepting-patients codes), invariants (US Core pd-1 and us-core-13 / Plan-Net
practitioner-or-organization-or-healthcareservice-or-location), must-support elements the data always holds,
the project's own extensions, and that every reference in a Bundle resolves. `check()` returns the errors as
"Type/id: element: problem" strings; an empty list means no rule is broken.
"""

from referral.fhir import terminology as t

NUCC_CODES = {code for code, _display in t.NUCC_TAXONOMY.values()}


def check(resource: dict) -> list[str]:
    """Return the rule violations of one resource, or of a Bundle and every resource in it."""
    if resource.get("resourceType") == "Bundle":
        return check_bundle(resource)
    checker = CHECKS.get(resource.get("resourceType"))
    where = f"{resource.get('resourceType')}/{resource.get('id', '?')}"
    if checker is None:
        return [f"{where}: no rules for this resource type"]
    return [f"{where}: {problem}" for problem in checker(resource)]


def check_bundle(bundle: dict) -> list[str]:
    errors = []
    entries = bundle.get("entry", [])
    if bundle.get("type") == "searchset" and "total" not in bundle:
        errors.append("Bundle: total: a searchset states its total")
    if bundle.get("type") == "collection":
        resolvable = {e.get("fullUrl") for e in entries}
        checked_types = None  # every reference
    else:  # searchset: references to the types it _include'd must be in it
        resolvable = {f"{e['resource']['resourceType']}/{e['resource'].get('id')}" for e in entries}
        checked_types = {e["resource"]["resourceType"] for e in entries if e.get("search", {}).get("mode") == "include"}
    for e in entries:
        resource = e.get("resource", {})
        errors += check(resource)
        for reference in references(resource):
            if (checked_types is None or reference.split("/")[0] in checked_types) and reference not in resolvable:
                errors.append(
                    f"{resource.get('resourceType')}/{resource.get('id', '?')}: {reference} is not in the bundle"
                )
    return errors


def references(value) -> list[str]:
    """Return every Reference.reference inside a resource (not its extensions' own URLs)."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                found.append(item)
            else:
                found += references(item)
    elif isinstance(value, list):
        for item in value:
            found += references(item)
    return found


# --- Shared rules ---------------------------------------------------------------------------------------


def meta_problems(resource, kind) -> list[str]:
    problems = []
    resource_meta = resource.get("meta", {})
    if t.PROFILE[kind] not in resource_meta.get("profile", []):
        problems.append(f"meta.profile: must claim {t.PROFILE[kind]}")
    if not resource_meta.get("lastUpdated"):
        problems.append("meta.lastUpdated: required (Plan-Net directories state when each entry changed)")
    return problems


def has_coding(concept, system, codes=None) -> bool:
    return any(
        c.get("system") == system and (codes is None or c.get("code") in codes) for c in concept.get("coding", [])
    )


def specialty_problems(resource) -> list[str]:
    problems = []
    for index, specialty in enumerate(resource.get("specialty", [])):
        if not has_coding(specialty, t.NUCC_SYSTEM, NUCC_CODES):
            problems.append(f"specialty[{index}]: required binding: needs a NUCC code from Plan-Net's specialties")
    return problems


def active_problems(resource) -> list[str]:
    return [] if resource.get("active") is True else ["active: must be present and true"]


def telecom_problems(resource) -> list[str]:
    return [
        f"telecom[{index}]: system and value are required"
        for index, contact in enumerate(resource.get("telecom", []))
        if not (contact.get("system") and contact.get("value"))
    ]


def new_patients_problems(resource, *, required) -> list[str]:
    found = [e for e in resource.get("extension", []) if e.get("url") == t.NEW_PATIENTS_URL]
    if not found:
        return (
            ["extension(newpatients): missing (the directory always knows whether new patients are accepted)"]
            if required
            else []
        )
    problems = []
    for extension in found:
        parts = [p for p in extension.get("extension", []) if p.get("url") == "acceptingPatients"]
        if len(parts) != 1:
            problems.append("extension(newpatients): needs exactly one acceptingPatients")
            continue
        value = parts[0].get("valueCodeableConcept", {})
        if not has_coding(value, t.ACCEPTING_PATIENTS_SYSTEM, {"nopt", "newpt", "existptonly", "existptfam"}):
            problems.append("extension(newpatients).acceptingPatients: required binding to AcceptingPatientsVS")
        if "value" in {key[:5] for key in extension}:
            problems.append("extension(newpatients): a complex extension has no value[x]")
    return problems


def volume_problems(resource) -> list[str]:
    url = t.canonical("StructureDefinition", t.VOLUME_EXTENSION)
    problems = []
    for extension in (e for e in resource.get("extension", []) if e.get("url") == url):
        parts = {}
        for part in extension.get("extension", []):
            parts.setdefault(part.get("url"), []).append(part)
        for name in ("procedure", "suppressed", "period", "source", "verified"):
            if len(parts.get(name, [])) != 1:
                problems.append(f"extension({t.VOLUME_EXTENSION}).{name}: exactly one required")
        suppressed = parts.get("suppressed", [{}])[0].get("valueBoolean")
        count = parts.get("count", [{}])[0].get("valueUnsignedInt") if parts.get("count") else None
        if suppressed and count is not None:
            problems.append(f"extension({t.VOLUME_EXTENSION}): a suppressed count carries no count")
        if not suppressed and count is None:
            problems.append(f"extension({t.VOLUME_EXTENSION}): a count that is not suppressed needs its count")
        unknown = set(parts) - {"procedure", "count", "suppressed", "period", "source", "verified"}
        if unknown:
            problems.append(f"extension({t.VOLUME_EXTENSION}): unknown parts {sorted(unknown)}")
    return problems


def insurance_problems(resource) -> list[str]:
    url = t.canonical("StructureDefinition", t.INSURANCE_EXTENSION)
    system = t.canonical("CodeSystem", t.INSURANCE_CS)
    problems = []
    found = [e for e in resource.get("extension", []) if e.get("url") == url]
    if len(found) > 1:
        problems.append(f"extension({t.INSURANCE_EXTENSION}): at most one per Location")
    for extension in found:
        parts = extension.get("extension", [])
        if [p.get("url") for p in parts].count("confirmed") != 1 or not all(
            p.get("valueDate") for p in parts if p.get("url") == "confirmed"
        ):
            problems.append(f"extension({t.INSURANCE_EXTENSION}).confirmed: exactly one date required")
        for part in parts:
            if part.get("url") not in ("confirmed", "insurance"):
                problems.append(f"extension({t.INSURANCE_EXTENSION}): unknown part {part.get('url')}")
            elif part["url"] == "insurance" and (part.get("valueCoding") or {}).get("system") != system:
                problems.append(f"extension({t.INSURANCE_EXTENSION}).insurance: a code from {system}")
    return problems


# --- Per resource type ----------------------------------------------------------------------------------


def practitioner_problems(resource) -> list[str]:
    problems = meta_problems(resource, "Practitioner") + active_problems(resource)
    identifiers = resource.get("identifier", [])
    if not identifiers:
        problems.append("identifier: US Core requires at least one")
    problems += [
        f"identifier[{index}]: system and value are required"
        for index, identifier in enumerate(identifiers)
        if not (identifier.get("system") and identifier.get("value"))
    ]
    npis = [i for i in identifiers if i.get("system") == t.NPI_SYSTEM]
    if len(npis) > 1:
        problems.append("identifier(NPI): at most one")
    names = resource.get("name", [])
    if not names:
        problems.append("name: US Core requires at least one")
    problems += [f"name[{i}].family: required" for i, name in enumerate(names) if not name.get("family")]
    for index, qualification in enumerate(resource.get("qualification", [])):
        code = qualification.get("code", {})
        if not (code.get("coding") or code.get("text")):
            problems.append(f"qualification[{index}].code: required")
    return problems + telecom_problems(resource)


def practitioner_role_problems(resource) -> list[str]:
    problems = meta_problems(resource, "PractitionerRole") + active_problems(resource)
    if not (resource.get("telecom") or resource.get("endpoint")):
        problems.append("pd-1: SHALL have contact information (telecom) or a reference to an Endpoint")
    if not any(resource.get(key) for key in ("practitioner", "organization", "healthcareService", "location")):
        problems.append("us-core-13: needs a practitioner, organization, healthcare service or location")
    if not resource.get("specialty"):
        problems.append("specialty: must support, and every specialist has one")
    problems += specialty_problems(resource)
    for index, code in enumerate(resource.get("code", [])):
        if not code.get("coding"):
            problems.append(f"code[{index}]: must be coded (PractitionerRoleVS)")
    problems += telecom_problems(resource)
    problems += new_patients_problems(resource, required=True)
    problems += volume_problems(resource)
    return problems


def location_problems(resource) -> list[str]:
    problems = meta_problems(resource, "Location")
    if resource.get("status") != "active":
        problems.append("status: fixed to active")
    if not resource.get("name"):
        problems.append("name: US Core requires it")
    if "mode" in resource:
        problems.append("mode: prohibited (0..0) in Plan-Net")
    if not resource.get("address"):
        problems.append("address: must support, and every practice has one")
    position = resource.get("position")
    if position and not (-90 <= position.get("latitude", 99) <= 90 and -180 <= position.get("longitude", 999) <= 180):
        problems.append("position: latitude/longitude out of range")
    if position and (position.get("latitude"), position.get("longitude")) == (0, 0):
        problems.append("position: 0,0 is a missing location, not a US practice")
    problems += insurance_problems(resource)
    return problems + telecom_problems(resource) + new_patients_problems(resource, required=False)


def organization_problems(resource) -> list[str]:
    problems = meta_problems(resource, "Organization") + active_problems(resource)
    if not resource.get("name"):
        problems.append("name: US Core requires it")
    if not resource.get("address"):
        problems.append("address: Plan-Net requires at least one")
    types = resource.get("type", [])
    if not types:
        problems.append("type: Plan-Net requires at least one")
    for index, concept in enumerate(types):
        if has_coding(concept, t.ORG_TYPE_SYSTEM, {"ntwk"}):
            problems.append(f"type[{index}]: ntwk is for Plan-Net Network, not Organization")
        if not concept.get("coding"):
            problems.append(f"type[{index}]: must be coded (OrgTypeVS)")
    return problems + telecom_problems(resource)


SERVICE_CATEGORIES = {"behav", "dent", "dme", "emerg", "group", "home", "hosp", "lab", "other", "outpat", "pharm",
                      "prov", "trans", "urg", "vis"}  # fmt: skip


def healthcare_service_problems(resource) -> list[str]:
    problems = meta_problems(resource, "HealthcareService") + active_problems(resource)
    categories = resource.get("category", [])
    if not categories:
        problems.append("category: Plan-Net requires at least one")
    for index, category in enumerate(categories):
        codes = {c.get("code") for c in category.get("coding", []) if c.get("system") == t.SERVICE_CATEGORY_SYSTEM}
        if not codes or codes & {"other"} or not codes <= SERVICE_CATEGORIES:
            problems.append(f"category[{index}]: required binding to HealthcareServiceCategoryVS")
    for index, service_type in enumerate(resource.get("type", [])):
        if not service_type.get("coding"):
            problems.append(f"type[{index}]: must be coded")
    problems += specialty_problems(resource)
    return problems + telecom_problems(resource) + new_patients_problems(resource, required=False)


def list_problems(resource) -> list[str]:
    problems = []
    if resource.get("status") not in ("current", "retired", "entered-in-error"):
        problems.append("status: required (current | retired | entered-in-error)")
    if resource.get("mode") not in ("working", "snapshot", "changes"):
        problems.append("mode: required (working | snapshot | changes)")
    if not resource.get("title"):
        problems.append("title: the shortlist's title")
    for index, item in enumerate(resource.get("entry", [])):
        if not item.get("item", {}).get("reference"):
            problems.append(f"entry[{index}].item: a reference is required")
    return problems


CHECKS = {
    "Practitioner": practitioner_problems,
    "PractitionerRole": practitioner_role_problems,
    "Location": location_problems,
    "Organization": organization_problems,
    "HealthcareService": healthcare_service_problems,
    "List": list_problems,
    "CodeSystem": lambda resource: (
        [] if resource.get("url") and resource.get("status") else ["url and status: required"]
    ),
    "StructureDefinition": lambda resource: (
        [] if resource.get("url") and resource.get("status") else ["url and status: required"]
    ),
    "CapabilityStatement": lambda resource: (
        [] if resource.get("fhirVersion") == t.FHIR_VERSION else ["fhirVersion: 4.0.1"]
    ),
}
