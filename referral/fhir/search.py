"""FHIR search over the published directory: parameters → QuerySets, then a searchset Bundle.

Each resource type names its parameters once (SEARCH below); the CapabilityStatement is written from the same
table. Values separated by commas are OR'ed, repeated parameters AND'ed, as in FHIR. Anything unsupported is a
SearchError naming the parameter (an OperationOutcome 400), never silently ignored.
"""

import datetime
import re
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.core.exceptions import EmptyResultSet, ValidationError
from django.db import connection
from django.db.models import BooleanField, Expression, F, Q, Subquery, prefetch_related_objects
from django.db.models.functions import Greatest
from django.utils import dateparse, timezone

from directory import geo
from directory.models import Affiliation, Practice, Service, Specialist, Specialty, ZipCode
from referral.fhir import resources as r
from referral.fhir import terminology as t
from referral.models import SearchEntry

DEFAULT_COUNT = 20
MAX_COUNT = 100
DEFAULT_NEAR_KM = 50.0
MAX_NEAR_MILES = 250.0
KM_PER_MILE = 1.609344
SEARCH_PARAM = "http://hl7.org/fhir/SearchParameter/"
PLAN_NET_PARAM = f"{t.PLAN_NET}/SearchParameter/"


class SearchError(Exception):
    """A bad search or read: `param` names the parameter (or element) at fault; `status` is the HTTP status."""

    def __init__(self, message, *, param=None, status=400, code="invalid"):
        super().__init__(message)
        self.param, self.status, self.code = param, status, code


# --- Parsing values ------------------------------------------------------------------------------------


def split_values(raw: str) -> list[str]:
    values = [value.strip() for value in re.split(r"(?<!\\),", raw)]
    return [value.replace("\\,", ",") for value in values if value]


def parse_token(value: str) -> tuple[str | None, str | None]:
    """Return (system, code) of "system|code", "code", "|code" (no system) or "system|" (any code)."""
    if "|" not in value:
        return None, value
    system, code = value.split("|", 1)
    return system, code or None


def parse_reference(value: str, kind: str, param: str) -> str:
    """Return the id of "Kind/id", "id" or an absolute ".../Kind/id"; refuse another resource type."""
    parts = value.rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] != kind:
        raise SearchError(f"{param} must reference a {kind}, not {parts[-2]}.", param=param)
    if not re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", parts[-1]):
        raise SearchError(f"{param}: {value!r} is not a resource id.", param=param)
    return parts[-1]


DATE_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb")


def parse_date_range(value: str, param: str) -> tuple[str, datetime.datetime, datetime.datetime]:
    """Return (prefix, start, end) for a FHIR date value: the instant range its precision covers."""
    prefix = value[:2] if value[:2] in DATE_PREFIXES else "eq"
    text = value[2:] if value[:2] in DATE_PREFIXES else value
    utc = datetime.UTC
    try:
        if re.fullmatch(r"\d{4}", text):
            start = datetime.datetime(int(text), 1, 1, tzinfo=utc)
            end = start.replace(year=start.year + 1)
        elif re.fullmatch(r"\d{4}-\d{2}", text):
            year, month = map(int, text.split("-"))
            start = datetime.datetime(year, month, 1, tzinfo=utc)
            end = datetime.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=utc)
        elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            start = datetime.datetime.combine(datetime.date.fromisoformat(text), datetime.time(), tzinfo=utc)
            end = start + datetime.timedelta(days=1)
        else:
            moment = dateparse.parse_datetime(text)
            if moment is None:
                raise ValueError
            start = moment if timezone.is_aware(moment) else moment.replace(tzinfo=utc)
            end = start + datetime.timedelta(seconds=1)
    except ValueError:
        raise SearchError(
            f"{param}: {value!r} is not a FHIR date (e.g. ge2026-01-01 or lt2026-06-01T12:00:00Z).", param=param
        ) from None
    return prefix, start, end


def date_q(path: str, value: str, param: str) -> Q:
    prefix, start, end = parse_date_range(value, param)
    return {
        "eq": Q(**{f"{path}__gte": start, f"{path}__lt": end}),
        "ne": Q(**{f"{path}__lt": start}) | Q(**{f"{path}__gte": end}),
        "gt": Q(**{f"{path}__gte": end}),
        "sa": Q(**{f"{path}__gte": end}),
        "ge": Q(**{f"{path}__gte": start}),
        "lt": Q(**{f"{path}__lt": start}),
        "eb": Q(**{f"{path}__lt": start}),
        "le": Q(**{f"{path}__lt": end}),
    }[prefix]


def string_q(paths, value: str, modifier: str | None, param: str) -> Q:
    lookup = {None: "istartswith", "exact": "exact", "contains": "icontains"}.get(modifier)
    if lookup is None:
        raise SearchError(f"{param}:{modifier} is not supported (use :exact or :contains).", param=param)
    q = Q()
    for path in paths:
        q |= Q(**{f"{path}__{lookup}": value})
    return q


@dataclass(frozen=True)
class Near:
    point: geo.Point
    miles: float


def parse_near(value: str, param: str) -> Near:
    """Parse FHIR's `near=latitude|longitude|distance|units` (units km by default, or [mi_i]) inside the US."""
    parts = value.split("|")
    if len(parts) < 2 or len(parts) > 4:
        raise SearchError(f"{param} is latitude|longitude|distance|units, e.g. 41.88|-87.63|25|[mi_i].", param=param)
    try:
        latitude, longitude = float(parts[0]), float(parts[1])
        distance = float(parts[2]) if len(parts) > 2 and parts[2] else DEFAULT_NEAR_KM
    except ValueError:
        raise SearchError(f"{param}: latitude, longitude and distance must be numbers.", param=param) from None
    units = parts[3] if len(parts) > 3 and parts[3] else "km"
    if units not in ("km", "[mi_i]", "mi"):
        raise SearchError(f"{param}: units must be km or [mi_i] (miles), not {units!r}.", param=param)
    miles = distance if units in ("[mi_i]", "mi") else distance / KM_PER_MILE
    if not (distance > 0 and miles <= MAX_NEAR_MILES):
        raise SearchError(f"{param}: distance must be above 0 and at most {MAX_NEAR_MILES:.0f} miles.", param=param)
    if (latitude, longitude) == (0.0, 0.0) or not geo.in_us_area((latitude, longitude)):
        raise SearchError(
            f"{param}: {latitude}, {longitude} is not a point in the United States; the directory lists US "
            "practices only.",
            param=param,
        )
    return Near((latitude, longitude), miles)


# --- Resource types -----------------------------------------------------------------------------------


def published_affiliations():
    return Affiliation.objects.filter(specialist__is_published=True)


def published_practices():
    return Practice.objects.filter(pk__in=published_affiliations().values("practice_id"))


def offering_any_service():
    q = Q()
    for service in Service:
        q |= Q(**{f"specialist__{service.value}": True})
    return q


def role_ids_q(values, param) -> Q:
    q = Q(pk__in=[])
    for value in values:
        match = re.fullmatch(r"(\d+)-(\d+)", value)
        if match:
            q |= Q(specialist_id=int(match[1]), practice_id=int(match[2]))
    return q


def int_ids(values) -> list[int]:
    return [int(value) for value in values if value.isdigit()]


@dataclass(frozen=True)
class OnSpecialist:
    """A condition on the published specialist of a role (a Q on Specialist), as a handler's answer.

    Roles are filtered on them through `AnyOf` (the published specialists' ids first), not through a join."""

    q: Q


class AnyOf(Expression):
    """`column IN (subquery)`, written `column = ANY(ARRAY(subquery))` on PostgreSQL.

    For `specialty=`, the roles of a few thousand published specialists among a million unpublished rows: joined,
    PostgreSQL hashes the specialists and scans the whole affiliation table (0.3 s for `specialty=other`, the
    specialty of the unpublished million), and a page sorted by id may walk the table's primary key instead.
    ARRAY(subquery) is an InitPlan, run once from the small partial index published_by_specialty, and the
    affiliations are then looked up by specialist_id; the planner takes an array of unknown length for a small
    one, so it keeps that plan at any specialty's size. SQLite, which only nests loops, gets the plain IN.
    """

    conditional = True
    output_field = BooleanField()

    def __init__(self, column: str, queryset):
        super().__init__()
        self.column, self.subquery = F(column), Subquery(queryset)

    def get_source_expressions(self):
        return [self.column, self.subquery]

    def set_source_expressions(self, expressions):
        self.column, self.subquery = expressions

    def as_sql(self, compiler, connection):
        column, column_params = compiler.compile(self.column)
        subquery, subquery_params = compiler.compile(self.subquery)  # "(SELECT ...)"
        return f"{column} IN {subquery}", (*column_params, *subquery_params)

    def as_postgresql(self, compiler, connection):
        column, column_params = compiler.compile(self.column)
        subquery, subquery_params = compiler.compile(self.subquery)
        return f"{column} = ANY(ARRAY{subquery})", (*column_params, *subquery_params)


def specialty_q(values, param) -> OnSpecialist:
    specialties = set()
    for value in values:
        system, code = parse_token(value)
        if system not in (None, "", t.NUCC_SYSTEM):
            continue
        if code is None:
            specialties.update(Specialty)
        elif code in t.SPECIALTY_BY_NUCC:
            specialties.add(t.SPECIALTY_BY_NUCC[code])
    return OnSpecialist(Q(specialty__in=sorted(specialties)))


def token_matches(values, fixed) -> bool:
    """True if any token value matches the fixed (system, code, display) every resource carries."""
    for value in values:
        system, code = parse_token(value)
        if system in (None, "", fixed[0]) and code in (None, fixed[1]):
            return True
    return False


def practitioner_identifier_q(values, param) -> Q:
    q = Q(pk__in=[])
    for value in values:
        system, code = parse_token(value)
        if system in (None, t.NPI_SYSTEM) and code:
            q |= Q(npi=code)
        if system == t.directory_id_system() and code and code.isdigit():
            q |= Q(pk=int(code))
    return q


def postal_code_q(values, param, path) -> Q:
    codes = []
    for value in values:
        try:
            codes.append(ZipCode.objects.for_input(value).code)
        except ValidationError as error:
            raise SearchError(f"{param}: {' '.join(error.messages)}", param=param) from None
    return Q(**{f"{path}__in": codes})


@dataclass
class Kind:
    """One searchable resource type: its rows, how a row becomes a resource, and its parameters."""

    name: str
    queryset: object  # a callable returning the base QuerySet of published rows
    build: object  # (row, ref) -> resource dict
    params: dict  # name -> (type, definition URL, handler(values, modifier, param) -> Q or OnSpecialist)
    updated: object  # expression or path for _lastUpdated
    near_param: str | None = None
    # Rows without the published restriction, for searches with OnSpecialist conditions (AnyOf restricts them).
    any_specialist_rows: object = None
    includes: dict = field(default_factory=dict)  # "Kind:param" -> (row -> [(kind, resource id, builder)])
    revincludes: dict = field(default_factory=dict)  # "PractitionerRole:param" -> (rows -> queryset Q)

    def ids_q(self, values, param) -> Q:
        if self.name in ("PractitionerRole", "HealthcareService"):
            return role_ids_q(values, param)
        return Q(pk__in=int_ids(values))


def role_rows():
    # The practices' insurance is read for the pages that include locations, by with_insurance().
    return Affiliation.objects.select_related("specialist", "practice").prefetch_related("specialist__volumes")


def with_insurance(rows) -> None:
    """Prefetch the insurance of the roles' practices that have any confirmed: none, no query (most pages)."""
    prefetch_related_objects([row.practice for row in rows if row.practice.insurance_known], "insurance")


def role_queryset():
    return role_rows().filter(specialist__is_published=True)


def service_queryset():
    return role_queryset().filter(offering_any_service())


def ref_param(kind, path):
    return lambda values, modifier, param: Q(
        **{f"{path}__in": int_ids(parse_reference(v, kind, param) for v in values)}
    )


def role_service_param(values, modifier, param):
    return role_ids_q([parse_reference(v, "HealthcareService", param) for v in values], param) & offering_any_service()


def fixed_token_param(fixed):
    return lambda values, modifier, param: Q() if token_matches(values, fixed) else Q(pk__in=[])


def string_param(*paths):
    return lambda values, modifier, param: _any(string_q(paths, value, modifier, param) for value in values)


def _any(qs) -> Q:
    result = Q(pk__in=[])
    for q in qs:
        result |= q
    return result


def service_type_param(values, modifier, param):
    services = set()
    for value in values:
        system, code = parse_token(value)
        if system in (None, "", t.canonical("CodeSystem", t.SERVICES_CS)):
            services.update(Service if code is None else [t.SERVICE_BY_CODE[code]] if code in t.SERVICE_BY_CODE else [])
    return _any(Q(**{f"specialist__{service.value}": True}) for service in services)


def role_practitioner(row):
    return [("Practitioner", str(row.specialist_id), lambda ref: r.practitioner(row.specialist))]


def role_organization(row):
    return [("Organization", str(row.practice_id), lambda ref: r.organization(row.practice))]


def role_location(row):
    return [("Location", str(row.practice_id), lambda ref: r.location(row.practice, ref))]


def role_service(row):
    if not row.specialist.services:
        return []
    return [
        (
            "HealthcareService",
            r.role_id(row.specialist_id, row.practice_id),
            lambda ref: r.healthcare_service(row.specialist, row.practice, ref),
        )
    ]


def location_organization(row):
    return [("Organization", str(row.pk), lambda ref: r.organization(row))]


ROLE_UPDATED = Greatest("specialist__updated_at", "practice__updated_at")
LAST_UPDATED = ("date", SEARCH_PARAM + "Resource-lastUpdated")

SEARCH = {
    kind.name: kind
    for kind in [
        Kind(
            "Practitioner",
            queryset=lambda: Specialist.objects.published(),
            build=lambda row, ref: r.practitioner(row),
            updated=F("updated_at"),
            params={
                "identifier": (
                    "token",
                    SEARCH_PARAM + "Practitioner-identifier",
                    lambda values, modifier, param: practitioner_identifier_q(values, param),
                ),
                "name": (
                    "string",
                    PLAN_NET_PARAM + "practitioner-name",
                    string_param("first_name", "middle_name", "last_name"),
                ),
                "family": ("string", PLAN_NET_PARAM + "practitioner-family-name", string_param("last_name")),
                "given": (
                    "string",
                    PLAN_NET_PARAM + "practitioner-given-name",
                    string_param("first_name", "middle_name"),
                ),
            },
            revincludes={"PractitionerRole:practitioner": "specialist_id__in"},
        ),
        Kind(
            "PractitionerRole",
            queryset=role_queryset,
            any_specialist_rows=role_rows,
            build=lambda row, ref: r.practitioner_role(row.specialist, row.practice, ref),
            updated=ROLE_UPDATED,
            near_param="location.near",
            params={
                "practitioner": (
                    "reference",
                    PLAN_NET_PARAM + "practitionerrole-practitioner",
                    ref_param("Practitioner", "specialist_id"),
                ),
                "organization": (
                    "reference",
                    PLAN_NET_PARAM + "practitionerrole-organization",
                    ref_param("Organization", "practice_id"),
                ),
                "location": (
                    "reference",
                    PLAN_NET_PARAM + "practitionerrole-location",
                    ref_param("Location", "practice_id"),
                ),
                "service": ("reference", PLAN_NET_PARAM + "practitionerrole-service", role_service_param),
                "specialty": (
                    "token",
                    PLAN_NET_PARAM + "practitionerrole-specialty",
                    lambda values, modifier, param: specialty_q(values, param),
                ),
                "role": ("token", PLAN_NET_PARAM + "practitionerrole-role", fixed_token_param(t.PHYSICIAN_ROLE)),
            },
            includes={
                "PractitionerRole:practitioner": role_practitioner,
                "PractitionerRole:organization": role_organization,
                "PractitionerRole:location": role_location,
                "PractitionerRole:service": role_service,
            },
        ),
        Kind(
            "Location",
            queryset=lambda: published_practices().prefetch_related("insurance"),
            build=lambda row, ref: r.location(row, ref),
            updated=F("updated_at"),
            near_param="near",
            params={
                "name": ("string", SEARCH_PARAM + "Location-name", string_param("name")),
                "address": (
                    "string",
                    PLAN_NET_PARAM + "location-address",
                    string_param("address_line1", "address_line2", "city", "state", "zip_code"),
                ),
                "address-city": ("string", PLAN_NET_PARAM + "location-address-city", string_param("city")),
                "address-state": ("string", PLAN_NET_PARAM + "location-address-state", string_param("state")),
                "address-postalcode": (
                    "string",
                    PLAN_NET_PARAM + "location-address-postalcode",
                    lambda values, modifier, param: postal_code_q(values, param, "zip_code"),
                ),
                "organization": (
                    "reference",
                    PLAN_NET_PARAM + "location-organization",
                    ref_param("Organization", "pk"),
                ),
            },
            includes={"Location:organization": location_organization},
            revincludes={"PractitionerRole:location": "practice_id__in"},
        ),
        Kind(
            "Organization",
            queryset=published_practices,
            build=lambda row, ref: r.organization(row),
            updated=F("updated_at"),
            params={
                "name": ("string", PLAN_NET_PARAM + "organization-name", string_param("name")),
                "address": (
                    "string",
                    PLAN_NET_PARAM + "organization-address",
                    string_param("address_line1", "address_line2", "city", "state", "zip_code"),
                ),
                "type": ("token", PLAN_NET_PARAM + "organization-type", fixed_token_param(t.PROVIDER_GROUP)),
            },
            revincludes={"PractitionerRole:organization": "practice_id__in"},
        ),
        Kind(
            "HealthcareService",
            queryset=service_queryset,
            build=lambda row, ref: r.healthcare_service(row.specialist, row.practice, ref),
            updated=ROLE_UPDATED,
            params={
                "name": (
                    "string",
                    PLAN_NET_PARAM + "healthcareservice-name",
                    string_param("specialist__first_name", "specialist__last_name", "practice__name"),
                ),
                "specialty": (
                    "token",
                    PLAN_NET_PARAM + "healthcareservice-specialty",
                    lambda values, modifier, param: specialty_q(values, param),
                ),
                "service-type": ("token", PLAN_NET_PARAM + "healthcareservice-service-type", service_type_param),
                "service-category": (
                    "token",
                    PLAN_NET_PARAM + "healthcareservice-service-category",
                    fixed_token_param(t.MEDICAL_PROVIDER),
                ),
                "location": (
                    "reference",
                    PLAN_NET_PARAM + "healthcareservice-location",
                    ref_param("Location", "practice_id"),
                ),
                "organization": (
                    "reference",
                    PLAN_NET_PARAM + "healthcareservice-organization",
                    ref_param("Organization", "practice_id"),
                ),
            },
            includes={
                "HealthcareService:location": role_location,
                "HealthcareService:organization": role_organization,
            },
            revincludes={"PractitionerRole:service": "service"},
        ),
    ]
}
CONTROL_PARAMS = {"_count", "_offset", "_include", "_revinclude", "_format", "_total"}


# --- Searching ----------------------------------------------------------------------------------------


@dataclass
class Query:
    kind: Kind
    where: Q
    near: Near | None
    count: int
    offset: int
    includes: list[str]
    revincludes: list[str]
    ignored: set[str]
    specialist_where: Q | None = None  # the OnSpecialist conditions of a role search, AND'ed
    last_updated: bool = False  # whether `where` refers to fhir_updated


def parse_query(kind: Kind, params, *, lenient=False) -> Query:
    """Turn the query string (a QueryDict) into a Query; SearchError on anything bad.

    An unknown parameter is an error unless the client sent `Prefer: handling=lenient` (FHIR's choice for
    the client); then it is left out of the search and of the Bundle's links, as FHIR asks.
    """
    where, near, includes, revincludes, ignored = Q(), None, [], [], set()
    specialist_where, last_updated = None, False
    count, offset = DEFAULT_COUNT, 0
    for key, raw_values in params.lists():
        name, _, modifier = key.partition(":")
        modifier = modifier or None
        values = [value for raw in raw_values for value in split_values(raw)]
        if key == "_count":
            count = parse_int(raw_values, key, 0, MAX_COUNT)
        elif key == "_offset":
            offset = parse_int(raw_values, key, 0, 10**9)
        elif key in ("_format", "_total"):
            continue  # content negotiation is the view's; the total is always exact
        elif key == "_include":
            includes += check_links(values, kind.includes, key, kind)
        elif key == "_revinclude":
            revincludes += check_links(values, kind.revincludes, key, kind)
        elif key == kind.near_param:
            if len(values) != 1:
                raise SearchError(f"{key} takes one point.", param=key)
            near = parse_near(values[0], key)
        elif name == "_id":
            for raw in raw_values:
                where &= kind.ids_q(split_values(raw), key)
        elif name == "_lastUpdated":
            last_updated = True
            for raw in raw_values:
                where &= _any(date_q("fhir_updated", value, key) for value in split_values(raw))
        elif name in kind.params:
            handler = kind.params[name][2]
            if modifier and kind.params[name][0] != "string":
                raise SearchError(f"{key}: modifiers are not supported on {name}.", param=key)
            for raw in raw_values:
                condition = handler(split_values(raw), modifier, key)
                if isinstance(condition, OnSpecialist):
                    specialist_where = condition.q if specialist_where is None else specialist_where & condition.q
                else:
                    where &= condition
        elif lenient:
            ignored.add(key)
        else:
            supported = ", ".join(
                sorted(
                    [*kind.params, "_id", "_lastUpdated", *CONTROL_PARAMS]
                    + ([kind.near_param] if kind.near_param else [])
                )
            )
            raise SearchError(
                f"Unknown or unsupported search parameter {key!r} for {kind.name}; supported: {supported}.", param=key
            )
    return Query(kind, where, near, count, offset, includes, revincludes, ignored, specialist_where, last_updated)


def parse_int(raw_values, key, low, high) -> int:
    try:
        value = int(raw_values[-1])
    except ValueError:
        raise SearchError(f"{key} must be a whole number.", param=key) from None
    if not low <= value <= high:
        raise SearchError(f"{key} must be between {low} and {high}.", param=key)
    return value


def check_links(values, supported, key, kind) -> list[str]:
    result = []
    for value in values:
        parts = value.split(":")
        link = ":".join(parts[:2])
        target_ok = len(parts) < 3 or parts[2] in (
            "Practitioner",
            "Organization",
            "Location",
            "HealthcareService",
            "PractitionerRole",
        )
        if link not in supported or not target_ok or len(parts) > 3:
            options = ", ".join(supported) or "none"
            raise SearchError(f"{key}={value} is not supported for {kind.name}; supported: {options}.", param=key)
        result.append(link)
    return result


def filtered(query: Query):
    kind, specialist_where = query.kind, query.specialist_where
    if specialist_where is None and kind.any_specialist_rows and not query.where and query.near is None:
        # Every role: from the published specialists' ids too (joined, PostgreSQL hashes them and scans the
        # whole affiliation table, 0.3 s); a search with other parameters keeps the join (they are selective).
        specialist_where = Q()
    if specialist_where is None:
        queryset = kind.queryset()
    else:
        specialists = Specialist.objects.published().filter(specialist_where).order_by().values("pk")
        queryset = (kind.any_specialist_rows or kind.queryset)().filter(AnyOf("specialist_id", specialists))
    if query.last_updated:
        # Only then: for roles the alias joins the practice table, a lookup per match.
        queryset = queryset.alias(fhir_updated=kind.updated)
    return queryset.filter(query.where)


def page_and_total(queryset, offset: int, count: int) -> tuple[list[int], int]:
    """Return (the ids of the page, by id; the number of matches) in one statement that finds the matches once.

    The matches are a materialized CTE: planned alone, without the page's LIMIT, so PostgreSQL never walks the
    primary key in order hoping to meet the page's rows early (a `COUNT(*) OVER ()` beside the LIMIT is costed as
    if the first rows were enough). The LEFT JOIN keeps the count when the page is past the end."""
    try:
        matches_sql, params = queryset.order_by().values("pk").query.sql_with_params()
    except EmptyResultSet:  # e.g. _id or specialty values that can match nothing
        return [], 0
    materialized = "MATERIALIZED " if connection.vendor == "postgresql" else ""
    sql = (
        f"WITH matches (id) AS {materialized}({matches_sql}) "
        "SELECT total.n, page.id FROM (SELECT COUNT(*) AS n FROM matches) AS total "
        "LEFT JOIN (SELECT id FROM matches ORDER BY id LIMIT %s OFFSET %s) AS page ON 1 = 1 ORDER BY page.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, (*params, count, offset))
        rows = cursor.fetchall()
    return [pk for _total, pk in rows if pk is not None], rows[0][0]


def run_query(query: Query) -> tuple[list, int]:
    """Return (rows of the page, total matches): nearest first for `near`, else by id."""
    queryset = filtered(query)
    if query.near is None:
        # The page's ids and the total first (index columns only), then the page's rows with their relations:
        # sorting every match's joined rows to keep 20 would cost more than the page itself. The rows are read
        # by id from the published ones (not the whole search again): a row unpublished in between is left out.
        page_ids, total = page_and_total(queryset, query.offset, query.count)
        by_id = query.kind.queryset().in_bulk(page_ids) if page_ids else {}
        return [by_id[pk] for pk in page_ids if pk in by_id], total
    nearest = nearest_places(query.near, roles=query.kind.name == "PractitionerRole")
    if query.where or query.specialist_where is not None:  # the other parameters, on the few candidates only
        if query.kind.name == "PractitionerRole":
            specialist_ids = {specialist_id for _miles, (specialist_id, _practice_id) in nearest}
            allowed = set(queryset.filter(specialist_id__in=specialist_ids).values_list("specialist_id", "practice_id"))
        else:
            allowed = set(queryset.filter(pk__in=[key for _miles, key in nearest]).values_list("pk", flat=True))
        nearest = [(miles, key) for miles, key in nearest if key in allowed]
    keys = [key for _miles, key in nearest[query.offset : query.offset + query.count]]
    if not keys:
        return [], len(nearest)
    published = query.kind.queryset()  # as for a page by id: the keys passed the search
    if query.kind.name == "PractitionerRole":
        by_key = {(row.specialist_id, row.practice_id): row for row in published.filter(role_pairs_q(keys))}
    else:
        by_key = published.in_bulk(keys)
    return [by_key[key] for key in keys if key in by_key], len(nearest)


def nearest_places(near: Near, *, roles: bool) -> list[tuple[float, object]]:
    """Return [(miles, key)] within `near`, nearest first (ties by key): keys are (specialist, practice) pairs for
    roles, practice ids for locations. Reads the search index (one row per published specialist at a located
    practice, indexed by latitude band), as the patient search does, never the million unpublished rows."""
    box = geo.bounding_box(near.point, near.miles)
    rows = SearchEntry.objects.filter(
        band__in=box.bands(),
        longitude__range=(box.west, box.east),
        latitude__range=(box.south, box.north),
    ).values_list("specialist_id", "practice_id", "latitude", "longitude")
    distance = geo.distance_from(near.point)
    found = {}
    for specialist_id, practice_id, latitude, longitude in rows:
        miles = distance((latitude, longitude))
        if miles <= near.miles:
            found[(specialist_id, practice_id) if roles else practice_id] = miles
    return sorted((miles, key) for key, miles in found.items())


def role_pairs_q(pairs) -> Q:
    return _any(Q(specialist_id=specialist_id, practice_id=practice_id) for specialist_id, practice_id in pairs)


def search_bundle(kind_name: str, params, *, base: str, lenient=False) -> dict:
    """Return the searchset Bundle for `params` on `kind_name`; `base` is the server's absolute /fhir/ URL."""
    kind = SEARCH[kind_name]
    query = parse_query(kind, params, lenient=lenient)
    rows, total = run_query(query)
    if any(kind.includes[link] is role_location for link in query.includes):
        with_insurance(rows)
    ref = r.relative_ref
    entries = [entry(base, kind.name, kind.build(row, ref), "match") for row in rows]
    seen = {(e["resource"]["resourceType"], e["resource"]["id"]) for e in entries}
    for link in query.includes:
        for row in rows:
            for target, target_id, build in kind.includes[link](row):
                if (target, target_id) not in seen:
                    seen.add((target, target_id))
                    entries.append(entry(base, target, build(ref), "include"))
    for link in query.revincludes:
        role_kind = SEARCH["PractitionerRole"]
        lookup = kind.revincludes[link]
        ids = [row.pk for row in rows]
        if lookup == "service":
            where = role_ids_q([r.role_id(row.specialist_id, row.practice_id) for row in rows], link)
        else:
            where = Q(**{lookup: ids})
        for row in role_queryset().filter(where).order_by("pk") if rows else []:
            resource = role_kind.build(row, ref)
            if ("PractitionerRole", resource["id"]) not in seen:
                seen.add(("PractitionerRole", resource["id"]))
                entries.append(entry(base, "PractitionerRole", resource, "include"))
    return {
        "resourceType": "Bundle",
        "meta": {"lastUpdated": r.instant(timezone.now())},
        "type": "searchset",
        "total": total,
        "link": page_links(base, kind.name, params, query, total),
        "entry": entries,
    }


def entry(base, kind, resource, mode) -> dict:
    return {"fullUrl": f"{base}{kind}/{resource['id']}", "resource": resource, "search": {"mode": mode}}


def page_links(base, kind_name, params, query, total) -> list[dict]:
    pairs = [
        (key, value)
        for key, values in params.lists()
        if key != "_offset" and key not in query.ignored
        for value in values
    ]

    def url(offset):
        return f"{base}{kind_name}?" + urlencode([*pairs, *([("_offset", offset)] if offset else [])])

    links = [{"relation": "self", "url": url(query.offset)}]
    if query.count and query.offset + query.count < total:
        links.append({"relation": "next", "url": url(query.offset + query.count)})
    if query.count and query.offset > 0:
        links.append({"relation": "previous", "url": url(max(0, query.offset - query.count))})
    return links


# --- Reads --------------------------------------------------------------------------------------------


def read_resource(kind_name: str, resource_id: str) -> dict:
    """Return one published resource; 404 if there is none, 410 if its specialist's profile was withdrawn."""
    kind = SEARCH.get(kind_name)
    if kind is None:
        raise SearchError(f"{kind_name} is not a resource type this server offers.", status=404, code="not-supported")
    row = kind.queryset().filter(kind.ids_q([resource_id], "id")).first()
    if row is not None:
        return kind.build(row, r.relative_ref)
    specialist_id = (
        resource_id.split("-")[0] if kind_name in ("Practitioner", "PractitionerRole", "HealthcareService") else None
    )
    # A tombstone: the profile was published once (its history says so) and is withdrawn now.
    if specialist_id and specialist_id.isdigit():
        withdrawn = Specialist.history.filter(id=int(specialist_id), is_published=True).exists()
        if withdrawn and not Specialist.objects.published().filter(pk=int(specialist_id)).exists():
            raise SearchError(
                f"{kind_name}/{resource_id} was withdrawn from the directory.", status=410, code="deleted"
            )
    raise SearchError(f"{kind_name}/{resource_id} is not in the directory.", status=404, code="not-found")


def artifact_bundle(kind_name: str, params, *, base: str) -> dict:
    """Search the project's own CodeSystems or StructureDefinitions by `url` or `_id` (for validators)."""
    from referral.fhir.definitions import ARTIFACTS

    wanted_urls, wanted_ids = None, None
    for key, raw_values in params.lists():
        values = [value for raw in raw_values for value in split_values(raw)]
        if key == "url":
            wanted_urls = set(values)
        elif key == "_id":
            wanted_ids = set(values)
        elif key != "_format":
            raise SearchError(f"Unknown search parameter {key!r} for {kind_name}; supported: _id, url.", param=key)
    resources = [
        build()
        for (kind, artifact_id), build in ARTIFACTS.items()
        if kind == kind_name and (wanted_ids is None or artifact_id in wanted_ids)
    ]
    resources = [resource for resource in resources if wanted_urls is None or resource["url"] in wanted_urls]
    return {
        "resourceType": "Bundle",
        "meta": {"lastUpdated": r.instant(timezone.now())},
        "type": "searchset",
        "total": len(resources),
        "link": [{"relation": "self", "url": f"{base}{kind_name}?" + urlencode(list(params.items()))}],
        "entry": [entry(base, kind_name, resource, "match") for resource in resources],
    }


# --- CapabilityStatement ---------------------------------------------------------------------------


def capability_statement(base: str) -> dict:
    """Return the server's CapabilityStatement, written from SEARCH (what is listed is what works)."""
    from referral.fhir.definitions import ARTIFACTS

    rest_resources = []
    for kind in SEARCH.values():
        params = [
            {"name": name, "type": param_type, "definition": definition}
            for name, (param_type, definition, _handler) in kind.params.items()
        ]
        params += [
            {"name": "_id", "type": "token", "definition": SEARCH_PARAM + "Resource-id"},
            {"name": "_lastUpdated", "type": LAST_UPDATED[0], "definition": LAST_UPDATED[1]},
        ]
        if kind.near_param:
            params.append(
                {
                    "name": kind.near_param,
                    "type": "special" if kind.near_param == "near" else "reference",
                    "definition": SEARCH_PARAM + "Location-near",
                    "documentation": "latitude|longitude|distance|units (km or [mi_i]); US points only",
                }
            )
        rest_resources.append(
            {
                "type": kind.name,
                "profile": f"http://hl7.org/fhir/StructureDefinition/{kind.name}",
                "supportedProfile": [t.PROFILE[kind.name]],
                "interaction": [{"code": "read"}, {"code": "search-type"}],
                "versioning": "no-version",
                "readHistory": False,
                "searchInclude": list(kind.includes),
                "searchRevInclude": list(kind.revincludes),
                "searchParam": params,
            }
        )
    for artifact_kind in sorted({kind for kind, _id in ARTIFACTS}):
        rest_resources.append(
            {
                "type": artifact_kind,
                "interaction": [{"code": "read"}, {"code": "search-type"}],
                "searchParam": [
                    {"name": "url", "type": "uri", "definition": f"{SEARCH_PARAM}{artifact_kind}-url"},
                    {"name": "_id", "type": "token", "definition": SEARCH_PARAM + "Resource-id"},
                ],
            }
        )
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": r.instant(timezone.now())[:10],
        "publisher": "SIJ Finder",
        "kind": "instance",
        "implementation": {"description": "SIJ Finder: the published SI-joint specialist directory", "url": base},
        "fhirVersion": t.FHIR_VERSION,
        "format": ["application/fhir+json", "json"],
        "implementationGuide": [
            f"{t.PLAN_NET}/ImplementationGuide/hl7.fhir.us.davinci-pdex-plan-net|{t.PLAN_NET_VERSION}"
        ],
        "rest": [
            {
                "mode": "server",
                "documentation": "Read-only and public: no sign-in. Rate-limited per client address.",
                "resource": rest_resources,
            }
        ],
    }
