"""Pages for referring physicians: account requests, shortlists, share links, exports.

Every shortlist URL looks the list up through `Shortlist.objects.owned_by(request.user)`, so anyone but the
owner (another physician, a curator, a superuser) gets a 404, never a hint that the list exists.
"""

import io
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from rest_framework.exceptions import AuthenticationFailed

from config.security import rate_limit
from referral.ranking import Situation
from shortlists.authentication import INVALID_TOKEN, ApiTokenAuthentication
from shortlists.exports import export_items
from shortlists.exports.csv import write_shortlist_csv
from shortlists.exports.fhir import write_shortlist_fhir
from shortlists.exports.pdf import write_shortlist_pdf
from shortlists.forms import AccountRequestForm, AddToShortlistForm, ItemNoteForm, ShortlistForm
from shortlists.models import REFERRING_PHYSICIANS_GROUP, ApiToken, ShareLink, Shortlist, hash_token


def is_referring_physician(user) -> bool:
    return user.is_authenticated and user.groups.filter(name=REFERRING_PHYSICIANS_GROUP).exists()


def physician_required(view):
    """Sign-in required; then only members of the referring physicians' group (403 page for other staff)."""

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not is_referring_physician(request.user):
            raise PermissionDenied("Shortlists are for referring physicians.")
        return view(request, *args, **kwargs)

    return never_cache(wrapped)


def owned_shortlist(request, pk) -> Shortlist:
    if not is_referring_physician(request.user):
        raise Http404
    return get_object_or_404(Shortlist.objects.owned_by(request.user), pk=pk)


def shortlist_view(view):
    """Sign-in required; the shortlist in the URL must be the user's own (404 otherwise)."""

    @login_required
    @wraps(view)
    def wrapped(request, pk, *args, **kwargs):
        return view(request, owned_shortlist(request, pk), *args, **kwargs)

    return never_cache(wrapped)


def export_view(view):
    """Like shortlist_view, but integrations may also send `Authorization: Token <key>` (GET only: no CSRF)."""

    @wraps(view)
    def wrapped(request, pk):
        if "authorization" not in request.headers:
            return shortlist_view(view)(request, pk)
        try:
            found = ApiTokenAuthentication().authenticate(request)
        except AuthenticationFailed:
            found = None
        if found is None:
            return HttpResponse(
                INVALID_TOKEN, status=401, content_type="text/plain", headers={"WWW-Authenticate": "Token"}
            )
        request.user = found[0]
        return view(request, owned_shortlist(request, pk))

    return never_cache(wrapped)


# --- Accounts -----------------------------------------------------------------------------------------


@rate_limit("account-request", "SIJ_RATE_ACCOUNT_REQUEST")
def account_request(request):
    form = AccountRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.save()
        return redirect("shortlists:account-request-done")
    return render(request, "shortlists/account_request.html", {"form": form})


def account_request_done(request):
    return render(request, "shortlists/account_request_done.html")


@physician_required
def api_token(request):
    key = ApiToken.issue(request.user) if request.method == "POST" else None
    token = ApiToken.objects.filter(user=request.user).first()
    return render(request, "shortlists/shortlist_api_token.html", {"key": key, "token": token})


# --- Shortlists ---------------------------------------------------------------------------------------


@physician_required
def shortlist_list(request):
    shortlists = Shortlist.objects.owned_by(request.user).with_item_count()
    return render(request, "shortlists/shortlist_list.html", {"shortlists": shortlists, "form": ShortlistForm()})


@physician_required
def shortlist_create(request):
    form = ShortlistForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        shortlist = form.save(commit=False)
        shortlist.owner = request.user
        shortlist.save()
        return redirect(shortlist)
    return render(request, "shortlists/shortlist_form.html", {"form": form})


@shortlist_view
def shortlist_detail(request, shortlist):
    items = list(shortlist.items.for_display())
    for item in items:
        item.note_form = ItemNoteForm(initial={"note": item.note}, prefix=f"item{item.pk}")
    context = {
        "shortlist": shortlist,
        "items": items,
        "situation": Situation.from_dict(shortlist.situation).describe(),
        "rename_form": ShortlistForm(instance=shortlist),
        "share_links": shortlist.share_links.all(),
        "now": timezone.now(),
    }
    return render(request, "shortlists/shortlist_detail.html", context)


@require_POST
@shortlist_view
def shortlist_rename(request, shortlist):
    form = ShortlistForm(request.POST, instance=shortlist)
    if form.is_valid():
        form.save()
        messages.success(request, "Renamed.")
    else:
        messages.error(request, "; ".join(form.errors["title"]))
    return redirect(shortlist)


@shortlist_view
def shortlist_delete(request, shortlist):
    if request.method == "POST":
        shortlist.delete()
        messages.success(request, f"Deleted “{shortlist.title}”.")
        return redirect("shortlists:shortlist-list")
    return render(request, "shortlists/shortlist_confirm_delete.html", {"shortlist": shortlist})


@require_POST
@shortlist_view
def item_move(request, shortlist, item_pk):
    item = get_object_or_404(shortlist.items, pk=item_pk)
    with transaction.atomic():
        shortlist.move(item, -1 if request.POST.get("direction") == "up" else 1)
    return redirect(f"{shortlist.get_absolute_url()}#item-{item.pk}")


@require_POST
@shortlist_view
def item_note(request, shortlist, item_pk):
    item = get_object_or_404(shortlist.items, pk=item_pk)
    form = ItemNoteForm(request.POST, prefix=f"item{item.pk}")
    if form.is_valid():
        item.note = form.cleaned_data["note"]
        item.save(update_fields=["note"])
        shortlist.save(update_fields=["updated_at"])
        messages.success(request, f"Note saved for {item.specialist.display_name}.")
    else:
        messages.error(request, "The note is too long (at most 2000 characters).")
    return redirect(f"{shortlist.get_absolute_url()}#item-{item.pk}")


@require_POST
@shortlist_view
def item_remove(request, shortlist, item_pk):
    item = get_object_or_404(shortlist.items.select_related("specialist"), pk=item_pk)
    item.delete()
    shortlist.save(update_fields=["updated_at"])
    messages.success(request, f"Removed {item.specialist.display_name}.")
    return redirect(shortlist)


@require_POST
@physician_required
def shortlist_add(request):
    """Add a search result to a new or existing list; distance and reasons are recomputed here, never posted."""
    form = AddToShortlistForm(request.POST, user=request.user)
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        back = reverse("shortlists:shortlist-list")
    if not form.is_valid():
        messages.error(request, " ".join(error for errors in form.errors.values() for error in errors))
        return redirect(back)
    data = form.cleaned_data
    with transaction.atomic():
        shortlist = data["shortlist"]
        if shortlist is None:
            title = data["title"].strip() or f"SI-joint specialists near {data['origin'].code}"
            shortlist = Shortlist.objects.create(owner=request.user, title=title)
        if not shortlist.origin_zip:  # the list keeps the first search's origin and situation
            shortlist.origin_zip = data["origin"].code
            shortlist.radius_miles = data["radius"]
            shortlist.situation = data["situation"].to_dict()
            shortlist.save()
        item, created = shortlist.add(data["specialist"])
    name = item.specialist.display_name
    if created:
        messages.success(request, f"Added {name} to “{shortlist.title}”.")
    else:
        messages.info(request, f"{name} is already on “{shortlist.title}”.")
    return redirect(back)


# --- Share links --------------------------------------------------------------------------------------


@require_POST
@shortlist_view
def share_create(request, shortlist):
    link, token = ShareLink.create_for(shortlist)
    url = request.build_absolute_uri(reverse("shortlists:shortlist-shared", args=[token]))
    return render(
        request, "shortlists/shortlist_share_created.html", {"shortlist": shortlist, "link": link, "url": url}
    )


@require_POST
@shortlist_view
def share_revoke(request, shortlist, link_pk):
    link = get_object_or_404(shortlist.share_links, pk=link_pk)
    if link.revoked_at is None:
        link.revoked_at = timezone.now()
        link.save(update_fields=["revoked_at"])
    messages.success(request, "The share link no longer works.")
    return redirect(shortlist)


@never_cache
def shortlist_shared(request, token):
    """The read-only page behind a share link: the list and the disclaimer, nothing about the owner."""
    link = ShareLink.objects.select_related("shortlist").filter(token_hash=hash_token(token)).first()
    if link is None:
        return render(request, "shortlists/shortlist_shared_gone.html", {"reason": "unknown"}, status=404)
    if not link.is_active:
        reason = "revoked" if link.revoked_at else "expired"
        return render(request, "shortlists/shortlist_shared_gone.html", {"reason": reason}, status=410)
    shortlist = link.shortlist
    context = {
        "shortlist": shortlist,
        "items": export_items(shortlist),
        "situation": Situation.from_dict(shortlist.situation).describe(),
        "expires_at": link.expires_at,
    }
    response = render(request, "shortlists/shortlist_shared.html", context)
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


# --- Exports ------------------------------------------------------------------------------------------


def export_response(shortlist, content, content_type, extension):
    response = HttpResponse(content, content_type=content_type)
    filename = f"shortlist-{shortlist.pk}.{extension}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@export_view
def export_csv(request, shortlist):
    out = io.StringIO()
    write_shortlist_csv(shortlist, export_items(shortlist), out)
    return export_response(shortlist, out.getvalue().encode("utf-8"), "text/csv; charset=utf-8", "csv")


@export_view
def export_pdf(request, shortlist):
    out = io.BytesIO()
    write_shortlist_pdf(shortlist, export_items(shortlist), out)
    return export_response(shortlist, out.getvalue(), "application/pdf", "pdf")


@export_view
def export_fhir(request, shortlist):
    out = io.StringIO()
    write_shortlist_fhir(shortlist, export_items(shortlist), out)
    return export_response(shortlist, out.getvalue().encode("utf-8"), "application/fhir+json", "fhir.json")
