"""Patient pages: the search form, the results, a specialist's profile and the guide.

Views only translate HTTP: the search form and the FilterSet validate the query, referral.matching finds
and explains the matches, the templates render them. Nothing here stores or logs a search (it pairs a ZIP
with a situation).
"""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_POST
from django_ratelimit.core import is_ratelimited

from config.security import client_ip, rate_limit
from directory import geo, links
from directory.forms import ProfileReportForm
from directory.models import Procedure, Service, Specialist
from directory.volumes import past_year_window
from referral import ranking, response_cache
from referral.compare import CompareForm, compare_columns, count_rows, service_rows
from referral.filters import SpecialistFilterSet
from referral.forms import SearchForm
from referral.guide import questions_to_ask
from referral.matching import find_specialists, match_specialist, profile_queryset
from referral.ranking import NO_SITUATION

# Query parameters that narrow the list, as opposed to the ZIP, distance, order and situation.
FILTER_FIELDS = (
    "service",
    "specialty",
    "accepting_new_patients",
    "telehealth",
    "speaks_spanish",
    "language",
    "min_mis_fusions",
    "insurance",
)


def home(request):
    return render(request, "referral/home.html", {"form": SearchForm()})


def about(request):
    weights = ranking.base_weights()
    return render(request, "referral/about.html", {"weights": weights, "weights_total": sum(weights.values())})


@rate_limit("search", "SIJ_RATE_SEARCH", methods=("GET", "HEAD"))
def search(request):
    return response_cache.cached_answer(request, "page", lambda: search_page(request))


def search_page(request):
    if not request.GET.get("zip", "").strip():
        # No ZIP yet (a bare /search/ link): show the form, not an error.
        return render(request, "referral/search.html", {"form": SearchForm(), "filters": SpecialistFilterSet().form})
    form = SearchForm(request.GET)
    filterset = SpecialistFilterSet(request.GET, queryset=Specialist.objects.all())
    valid = form.is_valid() & filterset.is_valid()  # both, so that every error shows at once
    context = {
        "form": form,
        "filters": filterset.form,
        "errors": {**form.errors, **filterset.errors},
        "services": Service.choices,
    }
    if valid:
        result = find_specialists(**form.search_arguments(), queryset=filterset.qs)
        context.update(results_context(request.GET, form, filterset.form, result))
    return render(request, "referral/search.html", context)


def specialist_detail(request, pk):
    specialist = get_object_or_404(profile_queryset(), pk=pk)
    return render(request, "referral/specialist_detail.html", profile_context(request, specialist))


def profile_context(request, specialist, *, report_form=None):
    """Return what the profile page shows: counts, services, the report form, and (from a search) the match."""
    oldest_end, today = past_year_window()
    past_year = [specialist.past_year_volume(procedure, today=today) for procedure in Procedure]
    context = {
        "specialist": specialist,
        "questions": questions_to_ask(specialist),
        "volumes": specialist.volumes.all(),
        # Only the SI-joint procedures score; a past-year lumbar fusion count is shown for context.
        "counted_ids": {v.pk for v in past_year if v and v.procedure in ranking.COUNTED_PROCEDURES},
        "context_ids": {v.pk for v in past_year if v and v.procedure not in ranking.COUNTED_PROCEDURES},
        "window_start": oldest_end,
        "window_months": settings.SIJ_VOLUME_WINDOW_MONTHS,
        "services": Service.choices,
        "offered_services": specialist.services,
        "missing_services": [label for value, label in Service.choices if value not in specialist.services],
        "report_form": report_form or ProfileReportForm(specialist=specialist),
    }
    if request.GET.get("zip", "").strip():
        # The visitor came from a search: explain this specialist relative to that ZIP and situation.
        form = SearchForm(request.GET)
        if form.is_valid():
            situation = form.situation
            context.update(
                match=match_specialist(specialist=specialist, origin=form.origin, situation=situation),
                origin=form.origin,
                situation_lines=situation.describe(),
                search_query=query_string(request.GET),
            )
    return context


@require_POST
def specialist_report(request, pk):
    """File a visitor's problem report about a profile; no account, nothing about the visitor is kept.

    Rate-limited per client address (django-ratelimit keeps a hashed counter in the cache, not the address).
    """
    specialist = get_object_or_404(profile_queryset(), pk=pk)
    form = ProfileReportForm(request.POST, specialist=specialist)
    limited = is_ratelimited(
        request,
        group="profile-report",
        key=lambda _group, request: client_ip(request),
        rate=f"{settings.SIJ_REPORTS_PER_HOUR}/h",
        increment=True,
    )
    if limited:
        form.add_error(None, gettext("You have sent several reports in the last hour. Please try again later."))
    elif form.is_valid():
        form.save()
        messages.success(request, gettext("Thank you. Our curators will check this profile."))
        return redirect(f"{specialist.get_absolute_url()}#report-title")
    context = profile_context(request, specialist, report_form=form)
    return render(request, "referral/specialist_detail.html", context, status=429 if limited else 400)


def compare(request):
    """Two or three specialists side by side (?ids=…&ids=…), explained for the search's ZIP and situation if given."""
    form = CompareForm(request.GET or None)
    context = {"form": form}
    if form.is_valid():
        origin, situation, search = None, NO_SITUATION, None
        if request.GET.get("zip", "").strip():
            search = SearchForm(request.GET)
            if search.is_valid():
                origin, situation = search.origin, search.situation
                context.update(situation_lines=situation.describe(), search_query=query_string(request.GET, ids=None))
        columns = compare_columns(form.cleaned_data["ids"], origin=origin, situation=situation)
        context.update(
            search=search,
            origin=origin,
            columns=columns,
            count_rows=count_rows(columns),
            service_rows=service_rows(columns),
        )
    return render(request, "referral/compare.html", context)


def results_context(query, form, filters_form, result):
    """Return what the results page shows around the matches: counts, paging and sort links, map data."""
    search_query = query_string(query)
    first_rank = (result.page - 1) * result.page_size + 1
    active_filters = sum(1 for name in FILTER_FIELDS if any(value.strip() for value in query.getlist(name)))
    cards, beyond_cards = result_cards(result, search_query, first_rank)
    return {
        "result": result,
        "search_query": search_query,
        "situation_lines": form.situation.describe(),
        "radius_label": f"{result.radius_miles:g}",
        "sort": form.cleaned_data.get("sort") or "best",
        "sort_best_query": query_string(query, sort="best", page=None),
        "sort_distance_query": query_string(query, sort="distance", page=None),
        "page_count": result.page_count,
        "first_rank": first_rank,
        "last_rank": first_rank + len(result.matches) - 1,
        "has_previous": result.page > 1,
        "previous_query": query_string(query, page=result.page - 1),
        "next_query": query_string(query, page=result.page + 1),
        "active_filter_count": active_filters,
        "filters_open": active_filters > 0 or bool(filters_form.errors) or "min_mis_fusions" in form.errors,
        "cards": cards,
        "beyond_cards": beyond_cards,
        "map_data": map_data(result, search_query, first_rank, cards + beyond_cards),
    }


class ResultCard:
    """One search result's display values, computed once (templates/referral/_result_card.html).

    The card template used to read them off the model instances: about 75 lookups per card, each trying a
    dictionary key before the attribute, plus the profile URL reversed three times (card, button, map) and
    the phone parsed twice. Reading them here is most of a 20% cut of the results page's CPU (BENCHMARKS.md,
    "Search over HTTP"). `match`, `specialist` and `practice` stay available for anything else.
    """

    def __init__(self, match, rank, *, beyond, search_query, services):
        specialist, practice = match.specialist, match.practice
        self.match, self.specialist, self.practice, self.rank, self.beyond = match, specialist, practice, rank, beyond
        self.pk = specialist.pk
        self.path = specialist.get_absolute_url()
        self.url = self.path + (f"?{search_query}" if search_query else "")
        self.full_name = specialist.full_name
        self.credentials = specialist.credentials
        self.display_name = specialist.display_name
        self.specialty = specialist.get_specialty_display()
        self.distance = geo.describe_distance(
            float(match.distance_miles), bool(practice and practice.has_exact_location)
        )
        self.accepting_new_patients = specialist.accepting_new_patients
        self.telehealth = specialist.telehealth
        self.verified_at = specialist.verified_at
        self.facts = match.facts
        self.reasons = match.reasons[:3]
        offered = specialist.services
        self.services = [label for value, label in services if value in offered]
        if practice is not None:
            self.practice_name = practice.name
            self.address = practice.address
            self.phone_tel = practice.phone_tel
            self.phone_display = practice.phone_display if self.phone_tel else ""
            self.directions = links.directions_url(practice)
            self.insurance_known = practice.insurance_known
            self.insurance_confirmed_on = practice.insurance_confirmed_on
            self.plans = [plan.display_name for plan in practice.insurance.all()] if self.insurance_known else []


def result_cards(result, search_query, first_rank):
    """Return (cards within the radius, lettered cards beyond it), numbered like the map's markers."""
    services = Service.choices
    matches = [
        ResultCard(match, rank, beyond=False, search_query=search_query, services=services)
        for rank, match in enumerate(result.matches, start=first_rank)
    ]
    beyond = [
        ResultCard(match, label, beyond=True, search_query=search_query, services=services)
        for label, match in beyond_labels(result)
    ]
    return matches, beyond


def beyond_labels(result):
    """Return [(letter, match)] for the beyond-radius section: lettered so the map tells them from the list."""
    return [(chr(ord("A") + index), match) for index, match in enumerate(result.beyond_radius)]


def query_string(query, **changes):
    """Return the QueryDict `query` urlencoded with `changes` applied (None removes) and empty values dropped."""
    query = query.copy()
    for name, value in changes.items():
        query.pop(name, None)
        if value is not None:
            query[name] = str(value)
    for name in list(query):
        values = [value for value in query.getlist(name) if value.strip()]
        if values:
            query.setlist(name, values)
        else:
            del query[name]
    return query.urlencode()


def map_data(result, search_query, first_rank, cards):
    """Return the JSON-safe markers for the results map, numbered like the list (`cards`: result_cards())."""
    paths = {card.pk: card.path for card in cards}

    def marker(match, rank, beyond):
        practice = match.practice
        return {
            "rank": rank,
            "name": match.specialist.display_name,
            "url": f"{paths[match.specialist.pk]}?{search_query}",
            "practice": practice.name,
            "place": f"{practice.city}, {practice.state}",
            "distance": round(match.distance_miles, 1),
            "distance_label": geo.describe_distance(match.distance_miles, practice.has_exact_location),
            "lat": practice.latitude,
            "lng": practice.longitude,
            "beyond": beyond,
        }

    located = [(rank, m, False) for rank, m in enumerate(result.matches, start=first_rank)]
    located += [(label, m, True) for label, m in beyond_labels(result)]
    origin = result.origin
    return {
        "origin": {
            "lat": origin.latitude,
            "lng": origin.longitude,
            "label": gettext("ZIP %(zip)s") % {"zip": origin.code},
        },
        # The map script's own words, in the page's language.
        "text": {
            "beyond": gettext("(beyond your distance)"),
            "tiles_failed": gettext("The background map could not load; the markers show where each practice is."),
        },
        "radius_miles": result.radius_miles,
        "markers": [marker(m, rank, beyond) for rank, m, beyond in located if m.practice and m.practice.point],
    }
