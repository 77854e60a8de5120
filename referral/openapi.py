"""The OpenAPI 3 description of the patient search API, generated from the FilterSet so the two cannot drift."""

from django import forms

from directory.models import Procedure, Service, Specialty, VolumeSource
from referral.filters import FlagField, SpecialistSearch, ZipCodeField

OPENAPI_VERSION = "3.0.3"


def field_schema(field: forms.Field) -> dict:
    """Return the JSON Schema of one query parameter, from its form field."""
    if isinstance(field, ZipCodeField):
        return {"type": "string", "pattern": r"^\s*[0-9]{5}(-?[0-9]{4})?\s*$", "example": "60611"}
    if isinstance(field, FlagField):
        return {"type": "boolean"}
    if isinstance(field, forms.MultipleChoiceField):
        return {"type": "array", "items": {"type": "string", "enum": [str(v) for v, _ in field.choices if v != ""]}}
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


def search_parameters() -> list[dict]:
    """Return the OpenAPI parameters of GET /api/v1/search: every filter of the API's SpecialistSearch."""
    parameters = []
    for name, search_filter in SpecialistSearch(api=True).filters.items():
        field = search_filter.field
        parameter = {
            "name": name,
            "in": "query",
            "required": bool(field.required),
            "description": " — ".join(str(part) for part in (field.label, field.help_text) if part),
            "schema": field_schema(field),
        }
        if isinstance(field, forms.MultipleChoiceField):
            parameter.update(style="form", explode=True)
        parameters.append(parameter)
    return parameters


def string_enum(choices) -> dict:
    return {"type": "string", "enum": list(choices.values)}


NULLABLE_STRING = {"type": "string", "nullable": True}
COMPONENTS = {
    "schemas": {
        "Origin": {
            "type": "object",
            "required": ["zip", "city", "state", "latitude", "longitude"],
            "properties": {
                "zip": {"type": "string"},
                "city": {"type": "string"},
                "state": {"type": "string"},
                "latitude": {"type": "number"},
                "longitude": {"type": "number"},
            },
        },
        "Practice": {
            "type": "object",
            "required": ["name", "address", "city", "state", "zip", "phone"],
            "properties": {
                "name": {"type": "string"},
                "address": {"type": "string", "description": "Street address (one line)"},
                "city": {"type": "string"},
                "state": {"type": "string"},
                "zip": {"type": "string"},
                "phone": {"type": "string"},
            },
        },
        "Volume": {
            "type": "object",
            "required": ["procedure", "count", "period_start", "period_end", "source", "verified"],
            "properties": {
                "procedure": string_enum(Procedure),
                "count": {
                    "type": "integer",
                    "nullable": True,
                    "description": "null when the source did not publish the count (e.g. CMS: fewer than 11 patients)",
                },
                "suppressed": {"type": "boolean"},
                "period_start": {"type": "string", "format": "date"},
                "period_end": {"type": "string", "format": "date"},
                "source": string_enum(VolumeSource),
                "verified": {"type": "boolean"},
                "past_year": {"type": "boolean", "description": "This count stands for the past year in the ranking"},
            },
        },
        "Result": {
            "type": "object",
            "required": [
                "id",
                "npi",
                "name",
                "credentials",
                "specialty",
                "distance_miles",
                "score",
                "reasons",
                "practice",
                "services",
                "volumes",
                "url",
            ],
            "properties": {
                "id": {"type": "integer"},
                "npi": NULLABLE_STRING,
                "name": {"type": "string"},
                "credentials": {"type": "string"},
                "specialty": string_enum(Specialty),
                "distance_miles": {"type": "number", "description": "To the nearest practice, 0.1-mile precision"},
                "score": {"type": "number", "minimum": 0, "maximum": 100},
                "reasons": {"type": "array", "items": {"type": "string"}, "description": "Most weighty first"},
                "facts": {"type": "array", "items": {"type": "string"}},
                "practice": {"$ref": "#/components/schemas/Practice"},
                "services": {"type": "array", "items": string_enum(Service)},
                "volumes": {"type": "array", "items": {"$ref": "#/components/schemas/Volume"}},
                "url": {"type": "string", "format": "uri", "description": "The profile page"},
            },
        },
        "SearchResponse": {
            "type": "object",
            "required": ["origin", "radius", "count", "next", "results", "beyond_radius"],
            "properties": {
                "origin": {"$ref": "#/components/schemas/Origin"},
                "radius": {"type": "number"},
                "count": {"type": "integer", "description": "Matches within the radius, after filters"},
                "next": {"type": "string", "format": "uri", "nullable": True},
                "results": {"type": "array", "items": {"$ref": "#/components/schemas/Result"}},
                "beyond_radius": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/Result"},
                    "description": "When fewer than 3 match within the radius: the nearest ones outside it (up to 5)",
                },
            },
        },
        "Specialist": {
            "type": "object",
            "required": ["id", "npi", "name", "credentials", "specialty", "services", "practices", "volumes", "url"],
            "properties": {
                "id": {"type": "integer"},
                "npi": NULLABLE_STRING,
                "name": {"type": "string"},
                "credentials": {"type": "string"},
                "specialty": string_enum(Specialty),
                "languages": {"type": "array", "items": {"type": "string"}},
                "accepting_new_patients": {"type": "boolean"},
                "telehealth": {"type": "boolean"},
                "bio": {"type": "string"},
                "website": {"type": "string"},
                "services": {"type": "array", "items": string_enum(Service)},
                "practices": {"type": "array", "items": {"$ref": "#/components/schemas/Practice"}},
                "trainings": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "course": {"type": "string"},
                            "provider": {"type": "string"},
                            "device_system": {"type": "string"},
                            "year": {"type": "integer", "nullable": True},
                        },
                    },
                },
                "volumes": {"type": "array", "items": {"$ref": "#/components/schemas/Volume"}},
                "verified_at": {"type": "string", "format": "date-time", "nullable": True},
                "url": {"type": "string", "format": "uri"},
                "match": {
                    "type": "object",
                    "nullable": True,
                    "description": "With ?zip=…: distance, score and reasons relative to that ZIP and situation",
                    "properties": {
                        "origin": {"$ref": "#/components/schemas/Origin"},
                        "distance_miles": {"type": "number", "nullable": True},
                        "score": {"type": "number"},
                        "reasons": {"type": "array", "items": {"type": "string"}},
                        "facts": {"type": "array", "items": {"type": "string"}},
                    },
                },
            },
        },
        "Errors": {
            "type": "object",
            "required": ["errors"],
            "properties": {
                "errors": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                    "example": {"zip": ["No such US ZIP: 00000"]},
                }
            },
        },
    }
}


# --- Shortlists (referring physicians; session or `Authorization: Token <key>`) ---------------------------

SITUATION_SCHEMA = {
    "type": "object",
    "description": "The patient's situation (nothing identifying); omitted keys are unknown.",
    "properties": {
        "prior_lumbar_fusion": {"type": "boolean", "nullable": True},
        "conservative_months": {"type": "integer", "minimum": 0, "maximum": 120, "nullable": True},
        "diagnostic_injection": {"type": "string", "enum": ["not_done", "relieved", "not_relieved"], "nullable": True},
    },
}
COMPONENTS["schemas"].update(
    {
        "ShortlistInput": {
            "type": "object",
            "description": "POST needs title; PATCH changes only the keys sent (items replaces the whole list).",
            "properties": {
                "title": {"type": "string", "maxLength": 200},
                "origin_zip": {"type": "string", "example": "60611", "description": "ZIP5 or ZIP+4"},
                "radius_miles": {"type": "integer", "minimum": 1, "maximum": 500, "nullable": True},
                "situation": SITUATION_SCHEMA,
                "items": {
                    "type": "array",
                    "description": "In order; distance and reasons are computed by the server.",
                    "items": {
                        "type": "object",
                        "required": ["specialist"],
                        "properties": {
                            "specialist": {
                                "oneOf": [{"type": "integer"}, {"type": "string", "pattern": "^[0-9]{10}$"}],
                                "description": "Specialist id, or NPI (10 digits)",
                            },
                            "note": {"type": "string", "maxLength": 2000},
                        },
                    },
                },
            },
        },
        "ShortlistSummary": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "title": {"type": "string"},
                "origin_zip": NULLABLE_STRING,
                "radius_miles": {"type": "integer", "nullable": True},
                "situation": SITUATION_SCHEMA,
                "created_at": {"type": "string", "format": "date-time"},
                "updated_at": {"type": "string", "format": "date-time"},
                "url": {"type": "string", "format": "uri"},
                "exports": {"type": "object", "additionalProperties": {"type": "string", "format": "uri"}},
                "item_count": {"type": "integer"},
            },
        },
        "Shortlist": {
            "allOf": [
                {"$ref": "#/components/schemas/ShortlistSummary"},
                {
                    "type": "object",
                    "properties": {
                        "items": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "id": {"type": "integer"},
                                    "position": {"type": "integer"},
                                    "specialist": {"type": "object"},
                                    "practice": {"type": "object", "nullable": True},
                                    "distance_miles": {"type": "number", "nullable": True},
                                    "reasons": {"type": "array", "items": {"type": "string"}},
                                    "facts": {"type": "array", "items": {"type": "string"}},
                                    "note": {"type": "string"},
                                    "added_at": {"type": "string", "format": "date-time"},
                                },
                            },
                        }
                    },
                },
            ]
        },
        "ShortlistList": {
            "type": "object",
            "properties": {
                "count": {"type": "integer"},
                "results": {"type": "array", "items": {"$ref": "#/components/schemas/ShortlistSummary"}},
            },
        },
    }
)
COMPONENTS["securitySchemes"] = {
    "token": {"type": "apiKey", "in": "header", "name": "Authorization", "description": "Token <key>"},
    "session": {"type": "apiKey", "in": "cookie", "name": "sessionid", "description": "Plus X-CSRFToken on changes"},
}


def shortlist_paths() -> dict:
    security = [{"token": []}, {"session": []}]
    body = {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ShortlistInput"}}},
    }
    denied = {
        "401": json_response("Not signed in, or a bad token", "Errors"),
        "403": json_response("Not a referring physician, or the CSRF check failed", "Errors"),
    }
    missing = {"404": json_response("No such shortlist of yours", "Errors")}
    shortlist_id = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]
    return {
        "/api/v1/shortlists": {
            "get": {
                "operationId": "listShortlists",
                "summary": "My shortlists, most recently changed first",
                "security": security,
                "responses": {"200": json_response("My shortlists", "ShortlistList"), **denied},
            },
            "post": {
                "operationId": "createShortlist",
                "summary": "Create a shortlist",
                "security": security,
                "requestBody": body,
                "responses": {
                    "201": json_response("Created (Location header points at it)", "Shortlist"),
                    "400": json_response("A field is invalid", "Errors"),
                    **denied,
                },
            },
        },
        "/api/v1/shortlists/{id}": {
            "get": {
                "operationId": "getShortlist",
                "summary": "One of my shortlists with its items",
                "security": security,
                "parameters": shortlist_id,
                "responses": {"200": json_response("The shortlist", "Shortlist"), **denied, **missing},
            },
            "patch": {
                "operationId": "updateShortlist",
                "summary": "Change the keys sent; a new origin or situation recomputes distances and reasons",
                "security": security,
                "parameters": shortlist_id,
                "requestBody": body,
                "responses": {
                    "200": json_response("The shortlist", "Shortlist"),
                    "400": json_response("A field is invalid", "Errors"),
                    **denied,
                    **missing,
                },
            },
            "delete": {
                "operationId": "deleteShortlist",
                "summary": "Delete the shortlist and its share links",
                "security": security,
                "parameters": shortlist_id,
                "responses": {"204": {"description": "Deleted"}, **denied, **missing},
            },
        },
    }


def json_response(description: str, schema_name: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}},
    }


def build_schema(server_url: str = "/") -> dict:
    """Return the OpenAPI 3 document of the patient API."""
    situation = [p for p in search_parameters() if p["name"] in ("prior_lumbar_fusion", "conservative_months", "zip")]
    situation += [p for p in search_parameters() if p["name"] == "diagnostic_injection"]
    profile_parameters = [{**p, "required": False} for p in situation]
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "SIJ Finder API",
            "version": "1",
            "description": (
                "Find SI-joint specialists near a US ZIP code, ranked by the criteria in docs/ranking.md. "
                'Information, not medical advice. Errors name the parameter: 400 {"errors": {field: [message]}}.'
            ),
        },
        "servers": [{"url": server_url}],
        "paths": {
            "/api/v1/search": {
                "get": {
                    "operationId": "searchSpecialists",
                    "summary": "Published specialists near a ZIP code, best match first",
                    "parameters": search_parameters(),
                    "responses": {
                        "200": json_response("The requested page of matches", "SearchResponse"),
                        "400": json_response("A parameter is missing or invalid", "Errors"),
                    },
                }
            },
            "/api/v1/specialists/{id}": {
                "get": {
                    "operationId": "getSpecialist",
                    "summary": "One published specialist's profile (and, with zip, how they match)",
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}},
                        *profile_parameters,
                    ],
                    "responses": {
                        "200": json_response("The profile", "Specialist"),
                        "400": json_response("A parameter is invalid", "Errors"),
                        "404": json_response("No published specialist with this id", "Errors"),
                    },
                }
            },
            "/api/v1/schema/": {
                "get": {
                    "operationId": "getSchema",
                    "summary": "This document",
                    "responses": {"200": {"description": "OpenAPI 3 document", "content": {"application/json": {}}}},
                }
            },
            **shortlist_paths(),
        },
        "components": COMPONENTS,
    }
