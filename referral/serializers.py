"""What the patient API answers: a search page of results, and a published profile (read-only).

The declared fields are the contract: drf-spectacular types the schema from them, and the tests check real
answers against that schema strictly (every key declared, none missing). The search's and the profile's
serializers write their dicts out in `to_representation` instead of DRF's field-by-field loop: a page of 20
results has about 900 values, and DRF's generic path (a deep copy of every nested field set per request, a
lookup per value) made an API search about 25% dearer in CPU than the hand-written JSON before it
(BENCHMARKS.md).
"""

import datetime
from typing import NamedTuple

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from directory.links import safe_url
from directory.models import Procedure, ProcedureVolume, Service, Specialty, VolumeSource
from directory.volumes import select_past_year_volume


class MilesField(serializers.FloatField):
    """Miles as a number: 50 rather than 50.0 when whole (as the API always wrote it)."""

    def to_representation(self, value):
        return miles(value)


def miles(value) -> int | float:
    value = float(value)
    return int(value) if value.is_integer() else value


@extend_schema_field(OpenApiTypes.URI)
class AbsoluteUrlField(serializers.Field):
    """The absolute URL of the object's page."""

    def __init__(self, source="*", **kwargs):
        super().__init__(source=source, read_only=True, **kwargs)

    def to_representation(self, value):
        return self.context["request"].build_absolute_uri(value.get_absolute_url())


class OriginSerializer(serializers.Serializer):
    zip = serializers.CharField(source="code")
    city = serializers.CharField()
    state = serializers.CharField()
    latitude = serializers.FloatField()
    longitude = serializers.FloatField()
    approximate = serializers.BooleanField(
        help_text="The ZIP has no location of its own: placed at its city's centre, so distances are approximate"
    )

    def to_representation(self, zip_code):
        return origin_data(zip_code)


def origin_data(zip_code) -> dict:
    return {
        "zip": zip_code.code,
        "city": zip_code.city,
        "state": zip_code.state,
        "latitude": zip_code.latitude,
        "longitude": zip_code.longitude,
        "approximate": zip_code.is_estimated,
    }


class InsuranceEntrySerializer(serializers.Serializer):
    code = serializers.CharField(help_text="The curated list's code: the search's `insurance` parameter takes it")
    name = serializers.CharField()


class PracticeInsuranceSerializer(serializers.Serializer):
    confirmed_on = serializers.DateField(
        allow_null=True, help_text="When the office confirmed the list; null: the directory does not know"
    )
    accepted = InsuranceEntrySerializer(
        many=True,
        allow_null=True,
        help_text="The insurance the office said it accepts; [] means none of the listed ones, null means not "
        "known (never read null as none). Patients should confirm with the office.",
    )


class PracticeSerializer(serializers.Serializer):
    name = serializers.CharField()
    address = serializers.CharField(help_text="Street address (one line)")
    city = serializers.CharField()
    state = serializers.CharField()
    zip = serializers.CharField(source="zip_code")
    phone = serializers.CharField()
    insurance = PracticeInsuranceSerializer()
    phone_e164 = serializers.CharField(help_text='The phone in E.164 (+13125550142), "" when none is on file')

    def to_representation(self, practice):
        return practice_data(practice)


def practice_data(practice) -> dict | None:
    if practice is None:
        return None
    return {
        "name": practice.name,
        "address": ", ".join(part for part in (practice.address_line1, practice.address_line2) if part),
        "city": practice.city,
        "state": practice.state,
        "zip": practice.zip_code,
        "phone": practice.phone,
        "insurance": insurance_data(practice),
        "phone_e164": practice.phone_e164,
    }


def insurance_data(practice) -> dict:
    """Return the practice's insurance (prefetched): the confirmed list, or nulls when it is not known."""
    if not practice.insurance_known:
        return {"confirmed_on": None, "accepted": None}
    return {
        "confirmed_on": practice.insurance_confirmed_on.isoformat(),
        "accepted": [{"code": entry.code, "name": entry.name} for entry in practice.insurance.all()],
    }


def past_year_ids(volumes, today: datetime.date | None = None) -> set[int]:
    """Return the ids of the counts that stand for the past year, one per procedure at most."""
    today = today or timezone.localdate()
    procedures = {v.procedure for v in volumes}
    chosen = (select_past_year_volume(volumes, procedure, today=today) for procedure in procedures)
    return {volume.pk for volume in chosen if volume is not None}


class VolumeListSerializer(serializers.ListSerializer):
    """A specialist's counts; which one stands for the past year depends on the others."""

    def to_representation(self, data):
        return volumes_data(data.all())


class VolumeRow(NamedTuple):
    """A procedure count as the search API reads it: the fields volumes_data() and the past-year rule use.

    The search lists every match's counts (about 60 on a page of 20); plain rows from values_list() cost a
    fifth of model instances (BENCHMARKS.md, "Search over HTTP").
    """

    pk: int
    procedure: str
    count: int | None
    is_suppressed: bool
    period_start: datetime.date
    period_end: datetime.date
    source: str
    verified: bool


def volume_rows(specialist_ids) -> dict[int, list[VolumeRow]]:
    """Return the counts of these specialists by specialist id (one query), each list in the model's order."""
    rows: dict[int, list[VolumeRow]] = {pk: [] for pk in specialist_ids}
    if not rows:
        return rows
    fields = ("specialist_id", *VolumeRow._fields)
    for specialist_id, *values in ProcedureVolume.objects.filter(specialist_id__in=rows).values_list(*fields):
        rows[specialist_id].append(VolumeRow._make(values))
    return rows


def volumes_data(volumes, today: datetime.date | None = None) -> list[dict]:
    """Return a specialist's counts (model instances or VolumeRows, in the model's order) as the API writes them."""
    volumes = list(volumes)
    past_year = past_year_ids(volumes, today)
    return [
        {
            "procedure": volume.procedure,
            "count": volume.count,
            "suppressed": volume.is_suppressed,
            "period_start": volume.period_start.isoformat(),
            "period_end": volume.period_end.isoformat(),
            "source": volume.source,
            "verified": volume.verified,
            "past_year": volume.pk in past_year,
        }
        for volume in volumes
    ]


class VolumeSerializer(serializers.Serializer):
    procedure = serializers.ChoiceField(choices=Procedure.choices)
    count = serializers.IntegerField(
        allow_null=True,
        min_value=0,
        help_text="null when the source did not publish the count (e.g. CMS: fewer than 11 patients)",
    )
    suppressed = serializers.BooleanField(source="is_suppressed")
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    source = serializers.ChoiceField(choices=VolumeSource.choices)
    verified = serializers.BooleanField()
    past_year = serializers.BooleanField(help_text="This count stands for the past year in the ranking")

    class Meta:
        list_serializer_class = VolumeListSerializer


class ServicesField(serializers.ListField):
    child = serializers.ChoiceField(choices=Service.choices)


class ResultSerializer(serializers.Serializer):
    """One match of a search: who, how far, how well they match and why."""

    id = serializers.IntegerField(source="specialist.pk")
    npi = serializers.CharField(source="specialist.npi", allow_null=True)
    name = serializers.CharField(source="specialist.full_name")
    credentials = serializers.CharField(source="specialist.credentials")
    specialty = serializers.ChoiceField(source="specialist.specialty", choices=Specialty.choices)
    distance_miles = serializers.FloatField(help_text="To the nearest practice, 0.1-mile precision")
    score = serializers.FloatField(min_value=0, max_value=100)
    reasons = serializers.ListField(child=serializers.CharField(), help_text="Most weighty first")
    facts = serializers.ListField(child=serializers.CharField(), help_text="Key facts with numbers, periods, sources")
    practice = PracticeSerializer(allow_null=True, help_text="The practice nearest to the ZIP code")
    accepting_new_patients = serializers.BooleanField(source="specialist.accepting_new_patients")
    telehealth = serializers.BooleanField(source="specialist.telehealth")
    verified_at = serializers.DateTimeField(
        source="specialist.verified_at", allow_null=True, help_text="When curators last verified the profile"
    )
    services = ServicesField(source="specialist.services")
    volumes = VolumeSerializer(source="specialist.volumes", many=True)
    url = AbsoluteUrlField(source="specialist", help_text="The profile page")

    def to_representation(self, match):
        return result_data(
            match, match.specialist.volumes.all(), site_root(self.context["request"]), timezone.localdate()
        )


def site_root(request) -> str:
    return request.build_absolute_uri("/").removesuffix("/")


def result_data(match, volumes: list, site: str, today: datetime.date) -> dict:
    """One result: `volumes` are the specialist's counts, `site` the absolute URL of the site's root without its
    slash (built once per page: Django's build_absolute_uri checks the host on every call)."""
    specialist = match.specialist
    return {
        "id": specialist.pk,
        "npi": specialist.npi,
        "name": specialist.full_name,
        "credentials": specialist.credentials,
        "specialty": specialist.specialty,
        "distance_miles": match.distance_miles,
        "score": match.score,
        "reasons": match.reasons,
        "facts": match.facts,
        "practice": practice_data(match.practice),
        "accepting_new_patients": specialist.accepting_new_patients,
        "telehealth": specialist.telehealth,
        "verified_at": specialist.verified_at,
        "services": specialist.services,
        "volumes": volumes_data(volumes, today),
        "url": site + specialist.get_absolute_url(),
    }


class SearchResponseSerializer(serializers.Serializer):
    origin = OriginSerializer()
    radius = MilesField(help_text="Miles")
    count = serializers.IntegerField(min_value=0, help_text="Matches within the radius, after filters")
    next = serializers.URLField(allow_null=True, help_text="The next page, when there is one")
    results = ResultSerializer(many=True)
    beyond_radius = ResultSerializer(
        many=True,
        help_text="When fewer than 3 match within the radius: the nearest ones outside it (up to 5)",
    )

    def to_representation(self, page):
        """`page` holds the search's fields and "volumes": each shown specialist's counts by id (volume_rows)."""
        site, today, volumes = site_root(self.context["request"]), timezone.localdate(), page["volumes"]

        def result(match):
            return result_data(match, volumes[match.specialist.pk], site, today)

        return {
            "origin": origin_data(page["origin"]),
            "radius": miles(page["radius"]),
            "count": page["count"],
            "next": page["next"],
            "results": [result(match) for match in page["results"]],
            "beyond_radius": [result(match) for match in page["beyond_radius"]],
        }


class TrainingSerializer(serializers.Serializer):
    course = serializers.CharField()
    provider = serializers.CharField()
    device_system = serializers.CharField()
    year = serializers.IntegerField(allow_null=True)


class ProfileMatchSerializer(serializers.Serializer):
    origin = OriginSerializer()
    distance_miles = serializers.FloatField(allow_null=True, help_text="null when no practice has a location")
    score = serializers.FloatField(min_value=0, max_value=100)
    reasons = serializers.ListField(child=serializers.CharField())
    facts = serializers.ListField(child=serializers.CharField())


class ProfileSerializer(serializers.Serializer):
    """A published specialist's profile; with ?zip=… also how they match that ZIP and situation."""

    id = serializers.IntegerField(source="pk")
    npi = serializers.CharField(allow_null=True)
    name = serializers.CharField(source="full_name")
    credentials = serializers.CharField()
    specialty = serializers.ChoiceField(choices=Specialty.choices)
    languages = serializers.ListField(source="language_list", child=serializers.CharField())
    accepting_new_patients = serializers.BooleanField()
    telehealth = serializers.BooleanField()
    bio = serializers.CharField()
    website = serializers.URLField(allow_null=True, help_text="http(s) only; null when none is on file or it is unsafe")
    services = ServicesField()
    practices = PracticeSerializer(many=True)
    trainings = TrainingSerializer(many=True)
    volumes = VolumeSerializer(many=True)
    verified_at = serializers.DateTimeField(allow_null=True)
    url = AbsoluteUrlField()
    match = serializers.SerializerMethodField(help_text="With ?zip=…: how they match that ZIP and situation")

    @extend_schema_field(ProfileMatchSerializer(allow_null=True))
    def get_match(self, specialist):  # for the schema; to_representation writes it
        raise NotImplementedError

    def to_representation(self, specialist):
        request, match = self.context["request"], self.context.get("match")
        return {
            "id": specialist.pk,
            "npi": specialist.npi,
            "name": specialist.full_name,
            "credentials": specialist.credentials,
            "specialty": specialist.specialty,
            "languages": specialist.language_list,
            "accepting_new_patients": specialist.accepting_new_patients,
            "telehealth": specialist.telehealth,
            "bio": specialist.bio,
            "website": safe_url(specialist.website),  # checked when shown: a javascript: URL never passes
            "services": specialist.services,
            "practices": [practice_data(practice) for practice in specialist.practices.all()],
            "trainings": [
                {"course": t.course, "provider": t.provider, "device_system": t.device_system, "year": t.year}
                for t in specialist.trainings.all()
            ],
            "volumes": volumes_data(specialist.volumes.all()),
            "verified_at": specialist.verified_at,
            "url": request.build_absolute_uri(specialist.get_absolute_url()),
            "match": None if match is None else {**match, "origin": origin_data(match["origin"])},
        }


class ErrorsSerializer(serializers.Serializer):
    """Every error answer of the API: the fields at fault, each with its messages in plain words."""

    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text='For example {"zip": ["No such US ZIP: 00000"]}; "authorization", "csrf", "method", "body", '
        '"content_type", "throttle", "path" or "server" when no field is at fault',
    )
