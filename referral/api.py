"""JSON API under /api/v1/: specialist search and referring physicians' shortlists."""

import json
from functools import wraps

from django.db import transaction
from django.http import HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from referral.models import ApiToken, Shortlist, hash_token
from referral.physician_forms import ShortlistApiForm, clean_items, clean_situation
from referral.physician_views import is_referring_physician
from referral.ranking import Situation

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
        scheme, _, key = header.partition(" ")
        token = None
        if scheme.lower() == "token" and key.strip():
            token = ApiToken.objects.select_related("user").filter(key_hash=hash_token(key.strip())).first()
        if token is None or not token.user.is_active:
            return None, api_errors({"authorization": ["Invalid token; send 'Authorization: Token <key>'."]}, 401)
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
        return token.user, None
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
