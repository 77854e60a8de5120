"""OpenAPI pieces read off the search forms, so the schema states the forms' own limits and choices.

drf-spectacular documents the FilterSet and the serializers by itself; the ZIP, radius, situation, order and
paging are a Django form (referral/forms.py), which it cannot read: these functions turn its fields into
query parameters and JSON Schema.
"""

from django import forms
from drf_spectacular.utils import OpenApiParameter

from referral.forms import SituationForm, ZipCodeField

ZIP_SCHEMA = {"type": "string", "pattern": r"^\s*[0-9]{5}(-?[0-9]{4})?\s*$", "example": "60611"}


def field_schema(field: forms.Field) -> dict:
    """Return the JSON Schema of one form field's value."""
    if isinstance(field, ZipCodeField):
        return dict(ZIP_SCHEMA)
    if isinstance(field, forms.ModelChoiceField):
        # A curated list curators extend: its codes are data, not schema (docs/api.md lists the first ones).
        return {"type": "string", "pattern": r"^[-a-zA-Z0-9_]+$", "example": "medicare"}
    if isinstance(field, forms.TypedChoiceField) and field.coerce is int:
        return {"type": "integer", "enum": [int(v) for v, _ in field.choices if v != ""]}
    if isinstance(field, forms.ChoiceField):
        return {"type": "string", "enum": [str(v) for v, _ in field.choices if v != ""]}
    if isinstance(field, forms.IntegerField | forms.FloatField):
        schema = {"type": "number" if isinstance(field, forms.FloatField) else "integer"}  # FloatField < IntegerField
        if field.min_value is not None:
            schema["minimum"] = field.min_value
        if field.max_value is not None:
            schema["maximum"] = field.max_value
        return schema
    schema = {"type": "string"}
    if getattr(field, "max_length", None):
        schema["maxLength"] = field.max_length
    return schema


def form_parameters(form_class: type[forms.Form], *, required: bool | None = None) -> list[OpenApiParameter]:
    """Return the query parameters of a form, in its field order (`required=False` makes all optional)."""
    form = form_class()
    return [
        OpenApiParameter(
            name=name,
            location=OpenApiParameter.QUERY,
            required=bool(field.required) if required is None else required,
            description=" — ".join(str(part) for part in (field.label, field.help_text) if part),
            type=field_schema(field),
        )
        for name, field in form.fields.items()
    ]


def situation_schema() -> dict:
    """Return the JSON Schema of a situation object as the shortlist API takes and gives it."""
    properties = {}
    for name, field in SituationForm.base_fields.items():
        schema = field_schema(field)
        if schema.get("enum") == ["yes", "no"]:
            schema = {"type": "boolean"}  # JSON has true and false for the form's yes and no
        properties[name] = {**schema, "nullable": True, "description": str(field.label)}
    return {
        "type": "object",
        "description": "The patient's situation (nothing identifying); null or omitted means not known.",
        "properties": properties,
        "additionalProperties": False,
    }
