"""Validate FHIR output the two ways the project promises: FHIR R4 (4.0.1) models, and the Plan-Net rule check."""

import fhir.resources
from fhir.resources import construct_fhir_element

from referral.fhir import conformance

assert fhir.resources.__fhir_version__ == "4.0.1"  # R4, not R4B or R5 (see pyproject.toml)


def without_element_ids(structure_definition: dict) -> dict:
    """fhir.resources types ElementDefinition.id as FHIR `id`, not `string` (nazrulworld/fhir.resources#101),
    so it refuses the spec's own "Extension.extension:count.value[x]" ids; validate the rest without them."""
    differential = [{k: v for k, v in e.items() if k != "id"} for e in structure_definition["differential"]["element"]]
    return {**structure_definition, "differential": {"element": differential}}


def parse_r4(resource: dict):
    """Return the fhir.resources R4 model of `resource` (and of every resource in a Bundle); raise if invalid."""
    if resource["resourceType"] == "StructureDefinition":
        resource = without_element_ids(resource)
    model = construct_fhir_element(resource["resourceType"], resource)
    for entry in resource.get("entry", []) if resource["resourceType"] == "Bundle" else []:
        construct_fhir_element(entry["resource"]["resourceType"], entry["resource"])
    return model


def assert_conformant(resource: dict):
    """Assert that `resource` is valid R4 and breaks none of the Plan-Net / US Core rules we check."""
    model = parse_r4(resource)
    assert conformance.check(resource) == []
    return model
