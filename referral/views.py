"""Patient pages: the search form, the results, a specialist's profile and the guide.

Views only translate HTTP: the FilterSet validates the query, referral.matching finds and explains the
matches, the templates render them. Nothing here stores or logs a search (it pairs a ZIP with a situation).
"""

from django.conf import settings
from django.shortcuts import get_object_or_404, render

from directory.models import Procedure, Service, past_year_window
from referral import ranking
from referral.filters import SpecialistSearch
from referral.matching import match_specialist, profile_queryset

# Query parameters that narrow the list, as opposed to the ZIP, distance, order and situation.
FILTER_FIELDS = ("service", "specialty", "accepting_new_patients", "telehealth", "language", "min_mis_fusions")


def home(request):
    return render(request, "referral/home.html", {"form": SpecialistSearch().form})


def about(request):
    weights = ranking.base_weights()
    return render(request, "referral/about.html", {"weights": weights, "weights_total": sum(weights.values())})


def search(request):
    if not request.GET.get("zip", "").strip():
        # No ZIP yet (a bare /search/ link): show the form, not an error.
        return render(request, "referral/search.html", {"form": SpecialistSearch().form})
    filterset = SpecialistSearch(request.GET)
    context = {"form": filterset.form, "services": Service.choices}
    if filterset.is_valid():
        context.update(results_context(request.GET, filterset, filterset.search()))
    return render(request, "referral/search.html", context)


def specialist_detail(request, pk):
    specialist = get_object_or_404(profile_queryset(), pk=pk)
    oldest_end, today = past_year_window()
    counted = (specialist.past_year_volume(procedure, today=today) for procedure in Procedure)
    context = {
        "specialist": specialist,
        "volumes": specialist.volumes.all(),
        "counted_ids": {volume.pk for volume in counted if volume},
        "window_start": oldest_end,
        "window_months": settings.SIJ_VOLUME_WINDOW_MONTHS,
        "services": Service.choices,
        "offered_services": specialist.services,
        "missing_services": [label for value, label in Service.choices if value not in specialist.services],
    }
    if request.GET.get("zip", "").strip():
        # The visitor came from a search: explain this specialist relative to that ZIP and situation.
        filterset = SpecialistSearch(request.GET)
        if filterset.is_valid():
            situation = filterset.situation
            context.update(
                match=match_specialist(specialist=specialist, origin=filterset.origin, situation=situation),
                origin=filterset.origin,
                situation_lines=situation.describe(),
                search_query=query_string(request.GET),
            )
    return render(request, "referral/specialist_detail.html", context)


def results_context(query, filterset, result):
    """Return what the results page shows around the matches: counts, paging and sort links, map data."""
    search_query = query_string(query)
    first_rank = (result.page - 1) * result.page_size + 1
    active_filters = sum(1 for name in FILTER_FIELDS if any(value.strip() for value in query.getlist(name)))
    return {
        "result": result,
        "search_query": search_query,
        "situation_lines": filterset.situation.describe(),
        "radius_label": f"{result.radius_miles:g}",
        "sort": filterset.form.cleaned_data.get("sort") or "best",
        "sort_best_query": query_string(query, sort="best", page=None),
        "sort_distance_query": query_string(query, sort="distance", page=None),
        "page_count": result.page_count,
        "first_rank": first_rank,
        "last_rank": first_rank + len(result.matches) - 1,
        "has_previous": result.page > 1,
        "previous_query": query_string(query, page=result.page - 1),
        "next_query": query_string(query, page=result.page + 1),
        "active_filter_count": active_filters,
        "filters_open": active_filters > 0 or any(filterset.form[name].errors for name in FILTER_FIELDS),
        "beyond": beyond_labels(result),
        "map_data": map_data(result, search_query, first_rank),
    }


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


def map_data(result, search_query, first_rank):
    """Return the JSON-safe markers for the results map, numbered like the list."""

    def marker(match, rank, beyond):
        practice = match.practice
        return {
            "rank": rank,
            "name": match.specialist.display_name,
            "url": f"{match.specialist.get_absolute_url()}?{search_query}",
            "practice": practice.name,
            "place": f"{practice.city}, {practice.state}",
            "distance": round(match.distance_miles, 1),
            "lat": practice.latitude,
            "lng": practice.longitude,
            "beyond": beyond,
        }

    located = [(rank, m, False) for rank, m in enumerate(result.matches, start=first_rank)]
    located += [(label, m, True) for label, m in beyond_labels(result)]
    origin = result.origin
    return {
        "origin": {"lat": origin.latitude, "lng": origin.longitude, "label": f"ZIP {origin.code}"},
        "radius_miles": result.radius_miles,
        "markers": [marker(m, rank, beyond) for rank, m, beyond in located if m.practice and m.practice.point],
    }
