"""JSON API under /api/v1/: specialist search and referring physicians' shortlists."""

import json
from functools import wraps

from django.db import transaction
from django.http import HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from directory.models import select_past_year_volume
from referral.filters import SpecialistSearch
from referral.matching import load_volumes, match_specialist, profile_queryset
from referral.models import Shortlist
from referral.openapi import build_schema
from referral.physician_forms import ShortlistApiForm, clean_items, clean_situation
from referral.physician_views import is_referring_physician, token_user
from referral.ranking import Situation

# --- Patient search (public, read-only) ---------------------------------------------------------------
# The search API logs nothing about the query: a ZIP with a situation is health information.


def read_only(view):
    """Answer GET and HEAD; anything else gets a JSON 405."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.method not in ("GET", "HEAD"):
            response = api_errors({"method": [f"{request.method} is not allowed here; use GET."]}, 405)
            response["Allow"] = "GET, HEAD"
            return response
        return view(request, *args, **kwargs)

    return wrapped


def origin_json(zip_code) -> dict:
    return {
        "zip": zip_code.code,
        "city": zip_code.city,
        "state": zip_code.state,
        "latitude": zip_code.latitude,
        "longitude": zip_code.longitude,
    }


def search_practice_json(practice) -> dict | None:
    if practice is None:
        return None
    street = ", ".join(part for part in (practice.address_line1, practice.address_line2) if part)
    return {
        "name": practice.name,
        "address": street,
        "city": practice.city,
        "state": practice.state,
        "zip": practice.zip_code,
        "phone": practice.phone,
    }


def volumes_json(specialist) -> list[dict]:
    volumes = list(specialist.volumes.all())
    chosen = (select_past_year_volume(volumes, procedure) for procedure in {v.procedure for v in volumes})
    past_year_ids = {volume.pk for volume in chosen if volume is not None}
    return [
        {
            "procedure": volume.procedure,
            "count": volume.count,
            "suppressed": volume.is_suppressed,
            "period_start": volume.period_start.isoformat(),
            "period_end": volume.period_end.isoformat(),
            "source": volume.source,
            "verified": volume.verified,
            "past_year": volume.pk in past_year_ids,
        }
        for volume in volumes
    ]


def match_json(match, request) -> dict:
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
        "practice": search_practice_json(match.practice),
        "services": specialist.services,
        "volumes": volumes_json(specialist),
        "url": request.build_absolute_uri(specialist.get_absolute_url()),
    }


def form_errors(errors) -> dict:
    return {field: [str(message) for message in messages] for field, messages in errors.items()}


@read_only
def api_search(request):
    """GET /api/v1/search?zip=60611&radius=50&…: the patient search as JSON."""
    search = SpecialistSearch(request.GET, api=True)
    if not search.is_valid():
        return api_errors(form_errors(search.errors))
    result = search.search()
    load_volumes({match.specialist.pk: match.specialist for match in [*result.matches, *result.beyond_radius]})
    next_url = None
    if result.has_next:
        query = request.GET.copy()
        query["page"] = str(result.page + 1)
        next_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
    radius = result.radius_miles
    return JsonResponse(
        {
            "origin": origin_json(result.origin),
            "radius": int(radius) if float(radius).is_integer() else radius,
            "count": result.count,
            "next": next_url,
            "results": [match_json(match, request) for match in result.matches],
            "beyond_radius": [match_json(match, request) for match in result.beyond_radius],
        }
    )


@read_only
def api_specialist(request, pk):
    """GET /api/v1/specialists/<id>: a published profile; with ?zip=… (and a situation) also how they match."""
    specialist = profile_queryset().filter(pk=pk).first()
    if specialist is None:
        return api_errors({"id": [f"No published specialist with id {pk}."]}, 404)
    match = None
    if "zip" in request.GET:
        search = SpecialistSearch(request.GET, api=True)
        if not search.is_valid():
            return api_errors(form_errors(search.errors))
        found = match_specialist(specialist=specialist, origin=search.origin, situation=search.situation)
        match = {
            "origin": origin_json(search.origin),
            "distance_miles": found.distance_miles if found.practice else None,
            "score": found.score,
            "reasons": found.reasons,
            "facts": found.facts,
        }
    return JsonResponse(
        {
            "id": specialist.pk,
            "npi": specialist.npi,
            "name": specialist.full_name,
            "credentials": specialist.credentials,
            "specialty": specialist.specialty,
            "languages": specialist.language_list,
            "accepting_new_patients": specialist.accepting_new_patients,
            "telehealth": specialist.telehealth,
            "bio": specialist.bio,
            "website": specialist.website,
            "services": specialist.services,
            "practices": [search_practice_json(practice) for practice in specialist.practices.all()],
            "trainings": [
                {"course": t.course, "provider": t.provider, "device_system": t.device_system, "year": t.year}
                for t in specialist.trainings.all()
            ],
            "volumes": volumes_json(specialist),
            "verified_at": specialist.verified_at.isoformat() if specialist.verified_at else None,
            "url": request.build_absolute_uri(specialist.get_absolute_url()),
            "match": match,
        }
    )


@read_only
def api_schema(request):
    """GET /api/v1/schema/: the OpenAPI 3 document."""
    return JsonResponse(build_schema(request.build_absolute_uri("/")), json_dumps_params={"indent": 1})


# --- Shortlists (referring physicians) -----------------------------------------------------------------
# Auth: the session (browser; unsafe methods need the CSRF token, as the pages do) or a personal API token
# sent as `Authorization: Token <key>` (no CSRF: nothing a browser adds on its own). Every route looks the
# list up through Shortlist.objects.owned_by(user), so other users get 404.

SHORTLIST_FIELDS = {"title", "origin_zip", "radius_miles", "situation", "items"}


def api_errors(errors: dict, status: int = 400) -> JsonResponse:
    return JsonResponse({"errors": errors}, status=status)


def api_user(request):
    """Return (user, None) for a signed-in session or a valid token, else (None, error response)."""
    header = request.headers.get("Authorization", "")
    if header:
        user = token_user(header)
        if user is None:
            return None, api_errors({"authorization": ["Invalid token; send 'Authorization: Token <key>'."]}, 401)
        return user, None
    if not request.user.is_authenticated:
        return None, api_errors({"authorization": ["Sign in, or send 'Authorization: Token <key>'."]}, 401)
    if request.method not in ("GET", "HEAD", "OPTIONS") and CsrfViewMiddleware(lambda r: None).process_view(
        request, None, (), {}
    ):
        return None, api_errors({"csrf": ["CSRF check failed: send the csrftoken cookie's value as X-CSRFToken."]}, 403)
    return request.user, None


def shortlist_api_view(methods):
    """Authenticate, check the method and membership, answer errors as JSON; token requests skip CSRF."""

    def decorator(view):
        @csrf_exempt  # api_user() enforces CSRF itself for session requests
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.method not in methods:
                response = api_errors({"method": [f"Use {', '.join(methods)}."]}, 405)
                response["Allow"] = ", ".join(methods)
                return response
            user, error = api_user(request)
            if error:
                return error
            if not is_referring_physician(user):
                if kwargs:
                    return api_errors({"shortlist": ["Not found."]}, 404)
                return api_errors({"authorization": ["Shortlists are for referring physicians."]}, 403)
            return view(request, user, *args, **kwargs)

        return wrapped

    return decorator


def specialist_json(specialist, request):
    return {
        "id": specialist.pk,
        "npi": specialist.npi,
        "name": specialist.full_name,
        "credentials": specialist.credentials,
        "specialty": specialist.specialty,
        "listed": specialist.is_published,
        "url": request.build_absolute_uri(specialist.get_absolute_url()),
    }


def practice_json(practice):
    if practice is None:
        return None
    return {
        "id": practice.pk,
        "name": practice.name,
        "address": practice.address,
        "phone": practice.phone,
        "latitude": practice.latitude,
        "longitude": practice.longitude,
    }


def shortlist_json(shortlist, request, *, with_items=True) -> dict:
    detail = request.build_absolute_uri(shortlist.get_absolute_url())
    data = {
        "id": shortlist.pk,
        "title": shortlist.title,
        "origin_zip": shortlist.origin_zip or None,
        "radius_miles": shortlist.radius_miles,
        "situation": Situation.from_dict(shortlist.situation).to_dict(),
        "created_at": shortlist.created_at.isoformat(),
        "updated_at": shortlist.updated_at.isoformat(),
        "url": detail,
        "exports": {kind: f"{detail}export.{kind}" for kind in ("csv", "pdf", "fhir.json")},
    }
    if with_items:
        data["items"] = [
            {
                "id": item.pk,
                "position": position,
                "specialist": specialist_json(item.specialist, request),
                "practice": practice_json(item.practice),
                "distance_miles": item.distance_miles,
                "reasons": item.reasons,
                "facts": item.facts,
                "note": item.note,
                "added_at": item.added_at.isoformat(),
            }
            for position, item in enumerate(shortlist.items.select_related("specialist", "practice"))
        ]
    else:
        data["item_count"] = shortlist.item_count
    return data


def parse_shortlist_body(request, shortlist=None):
    """Return (cleaned dict, errors) for a POST (all fields) or PATCH (only the fields sent) body."""
    try:
        body = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        return None, {"body": ["Send a JSON object."]}
    if not isinstance(body, dict):
        return None, {"body": ["Send a JSON object."]}
    errors = {key: ["Unknown field."] for key in sorted(set(body) - SHORTLIST_FIELDS)}
    scalar_keys = ("title", "origin_zip", "radius_miles")
    scalars = {key: getattr(shortlist, key) for key in scalar_keys} if shortlist else {}
    scalars.update({key: body[key] for key in scalar_keys if key in body})
    form = ShortlistApiForm({key: "" if value is None else value for key, value in scalars.items()})
    cleaned = {}
    if form.is_valid():
        cleaned.update({key: form.cleaned_data[key] for key in scalar_keys if key in body or shortlist is None})
    else:
        errors.update({key: list(messages) for key, messages in form.errors.items()})
    if "situation" in body:
        cleaned["situation"], situation_errors = clean_situation(body["situation"] or {})
        errors.update(situation_errors)
    if "items" in body:
        cleaned["items"], item_errors = clean_items(body["items"])
        errors.update(item_errors)
    return cleaned, errors


def apply_items(shortlist, items) -> None:
    """Make the list hold exactly `items` [(specialist, note)], in that order; kept items keep their capture."""
    existing = {item.specialist_id: item for item in shortlist.items.all()}
    wanted = {specialist.pk for specialist, _note in items}
    shortlist.items.exclude(specialist_id__in=wanted).delete()
    for position, (specialist, note) in enumerate(items):
        item = existing.get(specialist.pk) or shortlist.add(specialist)[0]
        item.position, item.note = position, note
        item.save(update_fields=["position", "note"])


@shortlist_api_view(["GET", "POST"])
def api_shortlists(request, user):
    if request.method == "GET":
        shortlists = Shortlist.objects.owned_by(user).with_item_count()
        return JsonResponse(
            {"count": len(shortlists), "results": [shortlist_json(s, request, with_items=False) for s in shortlists]}
        )
    cleaned, errors = parse_shortlist_body(request)
    if errors:
        return api_errors(errors)
    with transaction.atomic():
        shortlist = Shortlist.objects.create(
            owner=user,
            title=cleaned["title"],
            origin_zip=cleaned["origin_zip"],
            radius_miles=cleaned["radius_miles"],
            situation=cleaned.get("situation", {}),
        )
        apply_items(shortlist, cleaned.get("items", []))
    response = JsonResponse(shortlist_json(shortlist, request), status=201)
    response["Location"] = request.build_absolute_uri(reverse("referral:api-shortlist", args=[shortlist.pk]))
    return response


@shortlist_api_view(["GET", "PATCH", "DELETE"])
def api_shortlist(request, user, pk):
    shortlist = Shortlist.objects.owned_by(user).filter(pk=pk).first()
    if shortlist is None:
        return api_errors({"shortlist": ["Not found."]}, 404)
    if request.method == "DELETE":
        shortlist.delete()
        return HttpResponse(status=204)
    if request.method == "PATCH":
        cleaned, errors = parse_shortlist_body(request, shortlist)
        if errors:
            return api_errors(errors)
        with transaction.atomic():
            moved = any(
                cleaned.get(key, getattr(shortlist, key)) != getattr(shortlist, key)
                for key in ("origin_zip", "situation")
            )
            for key in ("title", "origin_zip", "radius_miles", "situation"):
                if key in cleaned:
                    setattr(shortlist, key, cleaned[key])
            shortlist.save()
            if moved:
                shortlist.recapture()
            if "items" in cleaned:
                apply_items(shortlist, cleaned["items"])
    return JsonResponse(shortlist_json(shortlist, request))
