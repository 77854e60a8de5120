"""The search index: SearchEntry rows for published specialists, and the one function that keeps them right.

Why it exists: with a million unpublished NPPES records sharing the practice table, a bounding-box query over
practices wades through ~50 unpublished locations for every published one, and scoring each candidate's counts
in Python costs more than the whole search budget (BENCHMARKS.md, "Search"). The index holds one row per
located practice of each published specialist with the part-scores that do not depend on the patient's
location or situation, and their reasons and key facts; matching.py reads it, measures distances, applies the
situation's weights and writes the page from it.

Keeping it right: refresh_search_entries(ids) brings the rows of those specialists up to date from the directory,
in place (changed rows upserted, removed ones deleted, unchanged ones left alone).
It runs whenever the directory announces changed specialists (directory.models.specialists_changed): model
saves and deletes announce theirs through the receivers below, code that bypasses model signals (bulk
writes, QuerySet.update) calls specialists_touched(ids) itself, and imports batch it all with
batch_changes(); so does every request (directory.middleware), so that an admin save with any number of
inline rows refreshes its specialist once. `manage.py refresh_search_index` brings everything up to date and
then vacuums and analyses the table (run it daily: it also renews rows whose part-scores age, which the search
otherwise recomputes on the fly).
"""

from collections.abc import Iterable
from typing import NamedTuple

from django.conf import settings
from django.db import connections, transaction
from django.db.models.signals import post_delete, post_save
from django.utils import timezone, translation
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
UPSERT_BATCH = 500  # rows per INSERT … ON CONFLICT: 20 columns each, well within SQLite's parameter cap


def entries_for(specialist: Specialist, today) -> list[SearchEntry]:
    """Return the (unsaved) SearchEntry rows for one specialist with prefetched relations."""
    from referral.matching import candidate_from_specialist

    if not specialist.is_published:
        return []
    candidate = candidate_from_specialist(specialist, 0.0)
    experience = ranking.assess_experience(candidate.volumes, today)
    results = ranking.static_results(candidate, today, experience)
    parts = ranking.static_parts(candidate, today, results)
    explanation = explanations(candidate, today, experience)
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


def explanations(candidate, today, experience) -> dict:
    """Return the reasons and key facts of a candidate in every language of the site: {language: {"reasons":
    {criterion: reason}, "facts": [fact, …]}}. Written out at indexing time, so that a search in Spanish costs
    no more than one in English."""
    written = {}
    for language, _name in settings.LANGUAGES:
        with translation.override(language):
            results = ranking.static_results(candidate, today, experience)
            written[language] = {
                "reasons": {criterion: reason for criterion, (_score, reason) in results.items()},
                "facts": ranking.key_facts(candidate, today=today, experience=experience),
            }
    return written


class Refreshed(NamedTuple):
    written: int  # rows inserted or changed
    removed: int
    unchanged: int


# Every column a refresh writes; rows are matched on (specialist, practice), their unique key.
WRITTEN = [field for field in SearchEntry._meta.concrete_fields if not field.primary_key]
MATCHED = ["specialist", "practice"]
KEY = [1 + [field.name for field in WRITTEN].index(name) for name in MATCHED]  # in a row read with the id first
UPDATED = [field.name for field in WRITTEN if field.name not in MATCHED]


def refresh_search_entries(specialist_ids: Iterable[int] | None = None, *, progress: bool = False) -> int:
    """Bring the search entries of these specialists (of everyone when None) up to date; return the rows written."""
    return sync_search_entries(specialist_ids, progress=progress).written


def sync_search_entries(specialist_ids: Iterable[int] | None = None, *, progress: bool = False) -> Refreshed:
    """Update the search entries of these specialists (of everyone when None) in place, in one transaction.

    Rows are compared with what they should hold: new and changed ones are upserted (INSERT … ON CONFLICT
    DO UPDATE, on PostgreSQL and SQLite alike), rows of practices or specialists that left the search are
    deleted, unchanged rows are not written at all. Updating in place rather than deleting and reinserting
    keeps the PostgreSQL table compact and its visibility map mostly set (the covering index stays
    index-only), keeps each row's id (a search between its two queries still finds its page rows), and makes a
    refresh of unchanged data write nothing (BENCHMARKS.md, "Search index upkeep").
    """
    from referral.matching import profile_queryset

    today = timezone.localdate()
    counts = [0, 0, 0]
    with transaction.atomic():
        if specialist_ids is None:
            # Everyone: stream the published specialists in key order, and compare each chunk with the
            # index rows of its key range (which also holds rows of specialists no longer published).
            specialists = profile_queryset().order_by("pk")
            total = specialists.count() if progress else None
            after = 0  # primary keys start at 1
            with tqdm(total=total, disable=None if progress else True) as bar:
                for chunk in chunked(specialists.iterator(chunk_size=CHUNK), CHUNK):
                    last = chunk[-1].pk
                    in_range = SearchEntry.objects.filter(specialist_id__gt=after, specialist_id__lte=last)
                    sync_chunk(chunk, in_range, today, counts)
                    bar.update(len(chunk))
                    after = last
            sync_chunk([], SearchEntry.objects.filter(specialist_id__gt=after), today, counts)
        else:
            ids = sorted(set(specialist_ids))
            for start in range(0, len(ids), CHUNK):  # keep IN lists short (SQLite caps query parameters)
                chunk_ids = ids[start : start + CHUNK]
                specialists = list(profile_queryset().filter(pk__in=chunk_ids).order_by("pk"))
                sync_chunk(specialists, SearchEntry.objects.filter(specialist_id__in=chunk_ids), today, counts)
    return Refreshed(*counts)


def chunked(items, size):
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def sync_chunk(specialists: list[Specialist], stored, today, counts: list[int]) -> None:
    """Make the index rows in `stored` (a SearchEntry queryset) those of `specialists`; add to counts."""
    current = {
        (row[KEY[0]], row[KEY[1]]): row for row in stored.values_list("id", *(field.attname for field in WRITTEN))
    }
    changed = []
    for specialist in specialists:
        for entry in entries_for(specialist, today):
            values = tuple(getattr(entry, field.attname) for field in WRITTEN)
            row = current.pop((entry.specialist_id, entry.practice_id), None)
            if row is None or row[1:] != values:
                changed.append(entry)
            else:
                counts[2] += 1
    if current:  # practices and specialists that left the search
        gone = [row[0] for row in current.values()]
        for start in range(0, len(gone), CHUNK):
            SearchEntry.objects.filter(pk__in=gone[start : start + CHUNK]).delete()
        counts[1] += len(gone)
    if changed:
        SearchEntry.objects.bulk_create(
            changed,
            batch_size=UPSERT_BATCH,
            update_conflicts=True,
            unique_fields=MATCHED,
            update_fields=UPDATED,
        )
        counts[0] += len(changed)


def tidy_search_index() -> str:
    """Vacuum and analyse the index table after a full rebuild; return what ran.

    PostgreSQL: `VACUUM (ANALYZE)` sets the visibility map, without which the covering index is not read
    index-only (the planner chose a bitmap heap scan at 100k published), frees the space of replaced rows
    and renews the planner's statistics. VACUUM cannot run inside a transaction, so within one (a caller's
    atomic block, a test) only `ANALYZE` runs. SQLite: `ANALYZE` of the table (its planner statistics).
    """
    connection = connections[SearchEntry.objects.db]
    table = connection.ops.quote_name(SearchEntry._meta.db_table)
    statement = (
        f"VACUUM (ANALYZE) {table}"
        if connection.vendor == "postgresql" and not connection.in_atomic_block
        else f"ANALYZE {table}"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement)
    return statement


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
