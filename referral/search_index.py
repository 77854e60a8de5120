"""The search index: SearchEntry rows for published specialists, and the one function that keeps them right.

Why it exists: with a million unpublished NPPES records sharing the practice table, a bounding-box query over
practices wades through ~50 unpublished locations for every published one, and scoring each candidate's counts
in Python costs more than the whole search budget (BENCHMARKS.md, "Search"). The index holds one row per
located practice of each published specialist with the part-scores that do not depend on the patient's
location or situation, and their reasons and key facts; matching.py reads it, measures distances, applies the
situation's weights and writes the page from it.

Keeping it right: refresh_search_entries(ids) brings the rows of those specialists up to date from the directory,
in place (changed rows upserted, removed ones deleted, unchanged ones left alone). Each row keeps a digest of
what it was computed from (inputs_digest): a specialist whose digest, locations and validity still match is
not recomputed at all.
It runs whenever the directory announces changed specialists (directory.models.specialists_changed): model
saves and deletes announce theirs through the receivers below, code that bypasses model signals (bulk
writes, QuerySet.update) calls specialists_touched(ids) itself, and imports batch it all with
batch_changes(); so does every request (directory.middleware), so that an admin save with any number of
inline rows refreshes its specialist once. `manage.py refresh_search_index` brings everything up to date and
then vacuums and analyses the table (run it daily: it also renews rows whose part-scores age, which the search
otherwise recomputes on the fly).
"""

import dataclasses
import functools
import hashlib
import importlib
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

import django
from django.conf import settings
from django.db import connections, transaction
from django.db.models.signals import post_delete, post_save
from django.utils import timezone
from tqdm import tqdm

from directory import geo
from directory.importers import bulk
from directory.models import (
    Affiliation,
    Practice,
    ProcedureVolume,
    Service,
    Specialist,
    Training,
    specialists_changed,
    specialists_touched,
)
from referral import ranking
from referral.models import SearchEntry

CHUNK = 2000

# Every column a refresh writes, in this order; rows are matched on (specialist, practice), their unique key.
WRITTEN = [field for field in SearchEntry._meta.concrete_fields if not field.primary_key]
COLUMNS = [field.attname for field in WRITTEN]
MATCHED = ["specialist", "practice"]
UPDATED = [field.name for field in WRITTEN if field.name not in MATCHED]
# What a refresh reads back to tell whether a row still holds (holds()): not the row's values themselves.
STORED = ["id", "specialist_id", "practice_id", "latitude", "longitude", "inputs", "valid_until"]

# The code, translations and formats that shape a row besides the specialist's own facts. They are part of every
# row's digest, so that a release that changes a score, a word or a translation changes every digest and the
# next `refresh_search_index` rewrites every row (what comparing each row's values did before the digest).
SHAPED_BY = (
    "referral.ranking",
    "referral.matching",
    "referral.search_index",
    "directory.volumes",
    "directory.geo",
    "directory.models",
    "directory.taxonomy",
    "config.formats.es.formats",
)


@functools.cache
def shaping_code() -> bytes:
    """Return a digest of the source of SHAPED_BY, the compiled translations and Django's version."""
    digest = hashlib.blake2b(django.__version__.encode(), digest_size=16)
    for name in SHAPED_BY:
        digest.update(Path(importlib.import_module(name).__file__).read_bytes())
    for folder in settings.LOCALE_PATHS:
        for catalogue in sorted(Path(folder).rglob("*.mo")):
            digest.update(catalogue.read_bytes())
    return digest.digest()


def inputs_digest(specialist: Specialist, volumes: tuple, trainings: list) -> str:
    """Return the digest of everything one specialist's rows are computed from except their locations (which
    each row holds) and the day (which valid_until stands for): its indexed fields, counts and trainings as
    load_chunk() gives them, the site's languages and time zone, and the code that shapes a row."""
    facts = (
        specialist.pk,
        *(getattr(specialist, name) for name in INDEXED_FIELDS[Specialist]),
        volumes,
        trainings,
        settings.LANGUAGES,
        settings.TIME_ZONE,
    )
    return hashlib.blake2b(repr(facts).encode(), key=shaping_code(), digest_size=16).hexdigest()


def entries_for(
    specialist: Specialist, volumes: tuple, trainings: list, places: list, today, inputs: str
) -> list[tuple]:
    """Return the index rows of one specialist as tuples of COLUMNS, one per place in the order of `places`.

    `volumes` are its counts as ranking.Volume, `trainings` its (course, year, id) and `places` the (practice
    id, latitude, longitude) of its located practices, as load_chunk() gives them; `inputs` their digest
    (inputs_digest), which each row keeps.
    """
    from referral.matching import candidate_from_values

    if not specialist.is_published or not places:
        return []
    candidate = candidate_from_values(specialist, 0.0, volumes, trainings)
    experience = ranking.assess_experience(candidate.volumes, today)
    explanation, results = explanations(candidate, today, experience)
    parts = ranking.static_parts(candidate, today, results)  # the scores: the same in every language
    mis = experience.current.get(ranking.Procedure.MIS_SI_FUSION)
    fixed = {
        "last_name_key": specialist.last_name.casefold(),
        "first_name_key": specialist.first_name.casefold(),
        "past_year_mis_fusions": None if mis is None else mis.count,
        "valid_until": ranking.static_parts_valid_until(candidate, today),
        "explanation": explanation,
        "inputs": inputs,
        **parts,
    }
    rows = []
    for practice_id, latitude, longitude in places:
        row = {
            **fixed,
            "specialist_id": specialist.pk,
            "practice_id": practice_id,
            "latitude": latitude,
            "longitude": longitude,
            "band": geo.latitude_band(latitude),
            **dict(zip("xyz", geo.unit_vector((latitude, longitude)), strict=True)),
        }
        rows.append(tuple(row[name] for name in COLUMNS))
    return rows


def explanations(candidate, today, experience) -> tuple[dict, dict]:
    """Return the reasons and key facts of a candidate in every language of the site: {language: {"reasons":
    {criterion: reason}, "facts": [fact, …]}}, written out at indexing time so that a search in Spanish costs
    no more than one in English; and static_results() in the first language, for the part-scores.

    Each language is passed to the ranking rather than activated: its wording is kept per language
    (directory.volumes.kept_per_language), and activating a language per candidate cost more than looking up
    most of its words."""
    written, first = {}, None
    for language, _name in settings.LANGUAGES:
        results = ranking.static_results(candidate, today, experience, language=language)
        written[language] = {
            "reasons": {criterion: reason for criterion, (_score, reason) in results.items()},
            "facts": ranking.key_facts(candidate, today=today, experience=experience, language=language),
        }
        first = first or results
    return written, first


# The fields entries_for() reads (through matching.candidate_from_values and the ranking): loading only these
# skips the rest's conversions (a specialist's JSON and timestamps, a count's notes and verification time).
# A count's fields are ranking.Volume's, in its order; a training's are (course, year, id).
INDEXED_FIELDS = {
    Specialist: [
        "first_name",
        "last_name",
        "is_published",
        "accepting_new_patients",
        "verified_at",
        *(service.value for service in Service),
    ],
    ProcedureVolume: [field.name for field in dataclasses.fields(ranking.Volume)],
    Training: ["course", "year", "id"],
}


def load_chunk(ids=None, *, after: int = 0, last: int = 0) -> list[tuple[Specialist, tuple, list, list]]:
    """Load the published ones of these specialists (or of the key range after < id <= last), each with its
    counts (ranking.Volume, in Meta order as the related manager gives them), its trainings ((course, year,
    id)) and its located practices ((practice id, latitude, longitude)): four plain queries.

    Counts and trainings are loaded as plain values: building a model instance for each of them was more than
    a third of loading (83,000 of them at 20k published; BENCHMARKS.md, "Search index upkeep"). The related
    rows are those of a subquery of the chunk's published specialists, not of a list of the loaded ids: a full
    rebuild's key range then passes two parameters per query instead of 2,000. The range is also put on each
    related table's own specialist column, for PostgreSQL does not carry it across the join: with it, each
    side is a range of an index.
    """
    if ids is None:
        chosen, ranged = {"pk__gt": after, "pk__lte": last}, {"specialist_id__gt": after, "specialist_id__lte": last}
    else:
        chosen, ranged = {"pk__in": ids}, {}
    published = Specialist.objects.published().filter(**chosen)
    specialists = {s.pk: s for s in published.only(*INDEXED_FIELDS[Specialist]).order_by("pk")}
    if not specialists:
        return []
    of_published = {**ranged, "specialist_id__in": published.values("pk")}
    volumes = {pk: [] for pk in specialists}
    counts = ProcedureVolume.objects.filter(**of_published)
    for specialist_id, *fields in counts.values_list("specialist_id", *INDEXED_FIELDS[ProcedureVolume]):
        volumes[specialist_id].append(ranking.Volume(*fields))
    trainings = {pk: [] for pk in specialists}
    recorded = Training.objects.filter(**of_published)
    for specialist_id, *fields in recorded.values_list("specialist_id", *INDEXED_FIELDS[Training]):
        trainings[specialist_id].append(tuple(fields))
    places = {pk: [] for pk in specialists}
    located = Affiliation.objects.filter(
        **of_published, practice__latitude__isnull=False, practice__longitude__isnull=False
    ).order_by("practice_id")
    for specialist_id, *place in located.values_list(
        "specialist_id", "practice_id", "practice__latitude", "practice__longitude"
    ):
        places[specialist_id].append(tuple(place))
    return [(specialist, tuple(volumes[pk]), trainings[pk], places[pk]) for pk, specialist in specialists.items()]


class Refreshed(NamedTuple):
    written: int  # rows inserted or changed
    removed: int
    unchanged: int


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
    today = timezone.localdate()
    counts = [0, 0, 0]
    with transaction.atomic():
        if specialist_ids is None:
            # Everyone: the published specialists in key order, each chunk (a key range) compared with the index
            # rows of its range (which also holds rows of specialists no longer published).
            ids = list(Specialist.objects.published().order_by("pk").values_list("pk", flat=True))
            after = 0  # primary keys start at 1
            with tqdm(total=len(ids), disable=None if progress else True) as bar:
                for start in range(0, len(ids), CHUNK):
                    chunk = ids[start : start + CHUNK]
                    in_range = SearchEntry.objects.filter(specialist_id__gt=after, specialist_id__lte=chunk[-1])
                    sync_chunk(load_chunk(after=after, last=chunk[-1]), in_range, today, counts)
                    bar.update(len(chunk))
                    after = chunk[-1]
            sync_chunk([], SearchEntry.objects.filter(specialist_id__gt=after), today, counts)
        else:
            ids = sorted(set(specialist_ids))
            for start in range(0, len(ids), CHUNK):  # keep IN lists short (SQLite caps query parameters)
                chunk = ids[start : start + CHUNK]
                stored = SearchEntry.objects.filter(specialist_id__in=chunk)
                sync_chunk(load_chunk(chunk), stored, today, counts)
    return Refreshed(*counts)


def sync_chunk(loaded, stored, today, counts: list[int]) -> None:
    """Make the index rows in `stored` (a SearchEntry queryset) those of `loaded` (load_chunk); add to counts.

    A specialist whose rows all still hold is not recomputed: most of a daily refresh's specialists."""
    current = {(row[1], row[2]): row for row in stored.values_list(*STORED)}
    changed = []
    for specialist, volumes, trainings, places in loaded:
        inputs = inputs_digest(specialist, volumes, trainings)
        rows = [current.pop((specialist.pk, place[0]), None) for place in places]
        kept = [holds(row, place, inputs, today) for row, place in zip(rows, places, strict=True)]
        if all(kept):
            counts[2] += len(kept)
            continue
        entries = entries_for(specialist, volumes, trainings, places, today, inputs)
        changed += [values for values, still in zip(entries, kept, strict=True) if not still]
        counts[2] += sum(kept)
    if current:  # practices and specialists that left the search
        gone = [row[0] for row in current.values()]
        for start in range(0, len(gone), CHUNK):
            bulk.delete(SearchEntry.objects.filter(pk__in=gone[start : start + CHUNK]))
        counts[1] += len(gone)
    # One statement per chunk, its values prepared by type rather than compiled by the ORM per object.
    bulk.upsert_rows(SearchEntry, COLUMNS, changed, unique_fields=MATCHED, update_fields=UPDATED)
    counts[0] += len(changed)


def holds(stored: tuple | None, place: tuple, inputs: str, today) -> bool:
    """Whether a stored row (STORED) may stay as it is: computed from the same inputs (inputs_digest), at the
    same place ((practice id, latitude, longitude)), and valid today.

    The same inputs give the same row except for valid_until, which is at most a year ahead
    (ranking.static_parts_valid_until): on each new day that cap moves a day on for rows with no nearer date.
    Rewriting a row only for that was 70% of the rows of a refresh of unchanged data made the day after the
    last one (BENCHMARKS.md, "Search index upkeep"). The stored, earlier date is as right while it is ahead:
    the row is recomputed from that day (on the fly by the search, and by the daily `refresh_search_index
    --expired`).
    """
    if stored is None:
        return False
    *_keys, latitude, longitude, stored_inputs, valid_until = stored
    return (latitude, longitude) == place[1:] and stored_inputs == inputs and today < valid_until


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
