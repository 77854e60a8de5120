"""The search index: SearchEntry rows for published specialists, and the one function that keeps them right.

Why it exists: with a million unpublished NPPES records sharing the practice table, a bounding-box query over
practices wades through ~50 unpublished locations for every published one, and scoring each candidate's counts
in Python costs more than the whole search budget (BENCHMARKS.md, "Search"). The index holds one row per
located practice of each published specialist with the part-scores that do not depend on the patient's
location or situation, and their reasons and key facts; matching.py reads it, measures distances, applies the
situation's weights and writes the page from it.

Keeping it right: refresh_search_entries(ids) rebuilds the rows of those specialists from the directory.
It runs whenever the directory announces changed specialists (directory.models.specialists_changed): model
saves and deletes announce theirs through the receivers below, code that bypasses model signals (bulk
writes, QuerySet.update) calls specialists_touched(ids) itself, and imports batch it all with
batch_changes(). `manage.py refresh_search_index` rebuilds everything (run it daily: it also renews rows
whose part-scores age, which the search otherwise recomputes on the fly).
"""

from collections.abc import Iterable

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.utils import timezone
from tqdm import tqdm

from directory import geo
from directory.models import (
    Affiliation,
    Practice,
    ProcedureVolume,
    Specialist,
    Training,
    specialists_changed,
    specialists_touched,
)
from referral import ranking
from referral.models import SearchEntry

CHUNK = 2000


def entries_for(specialist: Specialist, today) -> list[SearchEntry]:
    """Return the (unsaved) SearchEntry rows for one specialist with prefetched relations."""
    from referral.matching import candidate_from_specialist

    if not specialist.is_published:
        return []
    candidate = candidate_from_specialist(specialist, 0.0)
    experience = ranking.assess_experience(candidate.volumes, today)
    results = ranking.static_results(candidate, today, experience)
    parts = ranking.static_parts(candidate, today, results)
    explanation = {
        "reasons": {criterion: reason for criterion, (_score, reason) in results.items()},
        "facts": ranking.key_facts(candidate, today=today, experience=experience),
    }
    valid_until = ranking.static_parts_valid_until(candidate, today)
    mis = experience.current.get(ranking.Procedure.MIS_SI_FUSION)
    return [
        SearchEntry(
            specialist_id=specialist.pk,
            practice_id=practice.pk,
            latitude=practice.latitude,
            longitude=practice.longitude,
            band=geo.latitude_band(practice.latitude),
            last_name_key=specialist.last_name.casefold(),
            first_name_key=specialist.first_name.casefold(),
            past_year_mis_fusions=None if mis is None else mis.count,
            valid_until=valid_until,
            explanation=explanation,
            **parts,
        )
        for practice in specialist.practices.all()
        if practice.point is not None
    ]


def refresh_search_entries(specialist_ids: Iterable[int] | None = None, *, progress: bool = False) -> int:
    """Rebuild the search entries of these specialists (of everyone when None); return the rows written."""
    from referral.matching import profile_queryset

    today = timezone.localdate()
    ids = None if specialist_ids is None else sorted(set(specialist_ids))
    if ids is not None and len(ids) > CHUNK:  # keep IN lists short (SQLite caps query parameters)
        with transaction.atomic():
            return sum(refresh_search_entries(ids[i : i + CHUNK]) for i in range(0, len(ids), CHUNK))
    with transaction.atomic():
        stale = SearchEntry.objects.all() if ids is None else SearchEntry.objects.filter(specialist_id__in=ids)
        stale.delete()
        specialists = profile_queryset() if ids is None else profile_queryset().filter(pk__in=ids)
        total = specialists.count() if progress else None
        written = 0
        batch: list[SearchEntry] = []
        for specialist in tqdm(
            specialists.order_by("pk").iterator(chunk_size=CHUNK), total=total, disable=None if progress else True
        ):
            batch += entries_for(specialist, today)
            if len(batch) >= CHUNK:
                written += len(SearchEntry.objects.bulk_create(batch))
                batch = []
        written += len(SearchEntry.objects.bulk_create(batch))
    return written


def refresh_expired_search_entries(*, progress: bool = False) -> int:
    """Rebuild the entries whose part-scores have aged (valid_until passed); return the rows written."""
    expired = SearchEntry.objects.filter(valid_until__lte=timezone.localdate()).values_list("specialist_id")
    ids = set(Specialist.objects.filter(pk__in=expired).values_list("pk", flat=True))
    return refresh_search_entries(ids, progress=progress) if ids else 0


# --- Keeping the index right on every change ----------------------------------------------------------
# Model saves and deletes announce the specialists they touch through directory.models.specialists_touched
# (batched during imports); bulk writes announce theirs themselves. Fixture loads (raw saves) are skipped:
# run `refresh_search_index` after `loaddata` (setup_demo does).


def refresh_announced(sender, ids, **kwargs):
    refresh_search_entries(ids)


def specialist_changed(sender, instance, raw=False, **kwargs):
    if not raw and kwargs.get("signal") is post_save:  # on delete the entries went with it (CASCADE)
        specialists_touched([instance.pk])


def practice_changed(sender, instance, raw=False, **kwargs):
    if not raw and kwargs.get("signal") is post_save:  # the address or coordinates may have changed
        specialists_touched(Affiliation.objects.filter(practice_id=instance.pk).values_list("specialist_id", flat=True))


def related_changed(sender, instance, raw=False, **kwargs):
    if not raw:
        specialists_touched([instance.specialist_id])


def connect_signals():
    """Called from ReferralConfig.ready()."""
    specialists_changed.connect(refresh_announced, dispatch_uid="search-index-specialists-changed")
    for name, signal in (("save", post_save), ("delete", post_delete)):
        signal.connect(specialist_changed, sender=Specialist, dispatch_uid=f"search-index-{name}-specialist")
        signal.connect(practice_changed, sender=Practice, dispatch_uid=f"search-index-{name}-practice")
        for model in (Affiliation, ProcedureVolume, Training):
            signal.connect(related_changed, sender=model, dispatch_uid=f"search-index-{name}-{model._meta.model_name}")
