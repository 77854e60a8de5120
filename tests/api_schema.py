"""Check real API answers against the generated OpenAPI document (strictly: no key missing, none extra)."""

import jsonschema


def strict(node):
    """Return an OpenAPI 3.0 schema as JSON Schema: `nullable` as a null alternative, no undeclared keys."""
    if isinstance(node, list):
        return [strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: strict(value) for key, value in node.items()}
    if "properties" in node:
        node.setdefault("additionalProperties", False)
        node.setdefault("required", list(node["properties"]))  # the API always writes every key it declares
    if node.pop("nullable", False):
        node = {"anyOf": [node, {"type": "null"}]}
    return node


def assert_matches_schema(client, data, component: str) -> None:
    """Assert that `data` is an instance of the schema component `component` of /api/v1/schema/."""
    schema = client.get("/api/v1/schema/").json()
    document = {"components": {"schemas": strict(schema["components"]["schemas"])}}
    validator = jsonschema.Draft7Validator({"$ref": f"#/components/schemas/{component}", **document})
    errors = sorted(validator.iter_errors(data), key=lambda error: list(error.path))
    assert not errors, "\n".join(f"{list(error.path)}: {error.message}" for error in errors)
