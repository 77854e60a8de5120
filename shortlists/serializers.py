"""What the shortlist API takes and gives: a shortlist, its items, and the body that creates or changes one."""

from django.db import transaction
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from directory.models import Specialty, ZipCode
from referral.ranking import Situation
from referral.schema import ZIP_SCHEMA, situation_schema
from referral.serializers import AbsoluteUrlField
from shortlists.forms import clean_items, clean_situation
from shortlists.models import Shortlist

EXPORT_KINDS = ("csv", "pdf", "fhir.json")


class ShortlistSpecialistSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    npi = serializers.CharField(allow_null=True)
    name = serializers.CharField(source="full_name")
    credentials = serializers.CharField()
    specialty = serializers.ChoiceField(choices=Specialty.choices)
    listed = serializers.BooleanField(source="is_published", help_text="Still in the published directory")
    url = AbsoluteUrlField()


class ShortlistPracticeSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField()
    address = serializers.CharField(help_text="One-line postal address")
    phone = serializers.CharField()
    latitude = serializers.FloatField(allow_null=True)
    longitude = serializers.FloatField(allow_null=True)


class ShortlistItemSerializer(serializers.Serializer):
    """A specialist on the list, with what was captured when added (or when the origin last changed)."""

    id = serializers.IntegerField(source="pk")
    position = serializers.IntegerField(source="list_position", min_value=0, help_text="0 is first")
    specialist = ShortlistSpecialistSerializer()
    practice = ShortlistPracticeSerializer(allow_null=True, help_text="The practice nearest to the list's origin")
    distance_miles = serializers.FloatField(allow_null=True)
    reasons = serializers.ListField(child=serializers.CharField())
    facts = serializers.ListField(child=serializers.CharField())
    note = serializers.CharField(max_length=2000, allow_blank=True)
    added_at = serializers.DateTimeField()


@extend_schema_field(situation_schema())
class SituationField(serializers.Field):
    """The patient's situation as a JSON object, checked by the search's SituationForm."""

    def to_representation(self, value):
        return Situation.from_dict(value).to_dict()

    def to_internal_value(self, data):
        cleaned, errors = clean_situation(data)
        if "situation" in errors:  # the whole value is wrong
            raise serializers.ValidationError(errors["situation"])
        if errors:  # one answer is: reported as "situation.<key>"
            raise serializers.ValidationError({key.partition(".")[2]: messages for key, messages in errors.items()})
        return cleaned


ITEM_INPUT_SCHEMA = {
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
        "additionalProperties": False,
    },
}


@extend_schema_field(ITEM_INPUT_SCHEMA)
class ItemsField(serializers.Field):
    """[{"specialist": <id or NPI>, "note": "…"}] → [(Specialist, note)], published specialists only, once each."""

    def to_representation(self, value):
        raise NotImplementedError  # write-only

    def to_internal_value(self, data):
        items, errors = clean_items(data)
        if errors:
            raise serializers.ValidationError(errors["items"])
        return items


@extend_schema_field(ZIP_SCHEMA)
class ZipField(serializers.CharField):
    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        return ZipCode.objects.for_input(value).code if value else ""


class ShortlistInputSerializer(serializers.Serializer):
    """POST needs the title; PATCH changes only the keys sent (items replaces the whole list)."""

    default_error_messages = {"invalid": "Send a JSON object."}

    title = serializers.CharField(max_length=200)
    origin_zip = ZipField(required=False, allow_blank=True, allow_null=True, max_length=10)
    radius_miles = serializers.IntegerField(min_value=1, max_value=500, required=False, allow_null=True)
    situation = SituationField(required=False, allow_null=True)
    items = ItemsField(required=False)

    def to_internal_value(self, data):
        unknown = sorted(set(data) - set(self.fields)) if isinstance(data, dict) else []
        errors = {key: ["Unknown field."] for key in unknown}
        try:
            cleaned = super().to_internal_value(data)
        except serializers.ValidationError as error:
            raise serializers.ValidationError({**errors, **error.detail}) from None
        if errors:
            raise serializers.ValidationError(errors)
        return cleaned

    def validate_situation(self, value):
        return value if value is not None else Situation().to_dict()  # null: nothing known

    def validate_radius_miles(self, value):
        # DRF's IntegerField reads "٥٠" (Arabic-Indic digits) as 50; only ASCII digits, as in the query string.
        raw = self.initial_data.get("radius_miles")
        if isinstance(raw, str) and not raw.strip().isascii():
            raise serializers.ValidationError("A valid integer is required.")
        return value

    def create(self, validated_data):
        with transaction.atomic():
            shortlist = Shortlist.objects.create(
                owner=validated_data["owner"],
                title=validated_data["title"],
                origin_zip=validated_data.get("origin_zip") or "",
                radius_miles=validated_data.get("radius_miles"),
                situation=validated_data.get("situation", {}),
            )
            apply_items(shortlist, validated_data.get("items", []))
        return shortlist

    def update(self, shortlist, validated_data):
        with transaction.atomic():
            if "origin_zip" in validated_data:
                validated_data["origin_zip"] = validated_data["origin_zip"] or ""
            moved = any(
                key in validated_data and validated_data[key] != getattr(shortlist, key)
                for key in ("origin_zip", "situation")
            )
            for key in ("title", "origin_zip", "radius_miles", "situation"):
                if key in validated_data:
                    setattr(shortlist, key, validated_data[key])
            shortlist.save()
            if moved:
                shortlist.recapture()
            if "items" in validated_data:
                apply_items(shortlist, validated_data["items"])
        return shortlist


def apply_items(shortlist, items) -> None:
    """Make the list hold exactly `items` [(specialist, note)], in that order; kept items keep their capture."""
    existing = {item.specialist_id: item for item in shortlist.items.all()}
    wanted = {specialist.pk for specialist, _note in items}
    shortlist.items.exclude(specialist_id__in=wanted).delete()
    for position, (specialist, note) in enumerate(items):
        item = existing.get(specialist.pk) or shortlist.add(specialist)[0]
        item.position, item.note = position, note
        item.save(update_fields=["position", "note"])


@extend_schema_field(
    {
        "type": "object",
        "description": "The list as a file: CSV, PDF, or a FHIR R4 Bundle (the API token works on these too)",
        "properties": {kind: {"type": "string", "format": "uri"} for kind in EXPORT_KINDS},
        "required": list(EXPORT_KINDS),
    }
)
class ExportsField(serializers.Field):
    def __init__(self, **kwargs):
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, shortlist):
        detail = self.context["request"].build_absolute_uri(shortlist.get_absolute_url())
        return {kind: f"{detail}export.{kind}" for kind in EXPORT_KINDS}


class ShortlistSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    title = serializers.CharField(max_length=200)
    origin_zip = serializers.SerializerMethodField()
    radius_miles = serializers.IntegerField(allow_null=True, min_value=1, max_value=500)
    situation = SituationField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    url = AbsoluteUrlField(help_text="The list's page")
    exports = ExportsField()
    item_count = serializers.IntegerField(min_value=0)

    @extend_schema_field({"type": "string", "pattern": "^[0-9]{5}$", "nullable": True, "example": "60611"})
    def get_origin_zip(self, shortlist) -> str | None:
        return shortlist.origin_zip or None


class ShortlistSerializer(ShortlistSummarySerializer):
    """A shortlist with its items, in order."""

    item_count = None
    items = serializers.SerializerMethodField()

    @extend_schema_field(ShortlistItemSerializer(many=True))
    def get_items(self, shortlist):
        items = list(shortlist.items.select_related("specialist", "practice"))
        for position, item in enumerate(items):
            item.list_position = position
        return ShortlistItemSerializer(items, many=True, context=self.context).data


class ShortlistListSerializer(serializers.Serializer):
    count = serializers.IntegerField(min_value=0)
    results = ShortlistSummarySerializer(many=True)
