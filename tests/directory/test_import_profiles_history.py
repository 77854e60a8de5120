"""The bulk profiles import writes the history that saving each changed object would have written.

The import writes rows and history rows in bulk (directory.importers.bulk, simple-history's bulk helpers);
these tests run an import, keep what it wrote, roll it back, make the same changes with one save() (or
delete()) per object, and compare the two histories row for row: history_type, history_user,
history_change_reason and every tracked field.
"""

import pytest
from django.db import transaction

from directory.models import Affiliation, Practice, ProcedureVolume, Specialist, Training
from tests.directory.test_import_profiles import csv_text, profile, profiles_file, run_import
from tests.factories import ProcedureVolumeFactory, SpecialistFactory, TrainingFactory, UserFactory, make_npi

pytestmark = pytest.mark.django_db
MODELS = [Specialist, Practice, Training, ProcedureVolume]  # in the order a save-per-object import writes them
# Set by save() to the current time: the two runs differ there by design.
AUTO_TIMES = {"created_at", "updated_at"}
PLACED = {"latitude", "longitude", "coordinates_source"}  # Practice.save() places a practice at its ZIP itself


def last_history_ids() -> dict:
    return {
        model: model.history.order_by("-history_id").values_list("history_id", flat=True).first() or 0
        for model in MODELS
    }


def history_since(since: dict) -> dict:
    """Return {model name: [history row without its id and date]} written after `since`, by object and type."""
    written = {}
    for model in MODELS:
        rows = model.history.filter(history_id__gt=since[model]).order_by("history_id").values()
        written[model.__name__] = sorted(
            (
                {name: value for name, value in row.items() if name not in {"history_id", "history_date", *AUTO_TIMES}}
                for row in rows
            ),
            key=lambda row: (row["id"], row["history_type"]),
        )
    return written


def row_reasons(npis_by_row: dict[int, str]) -> dict[int, str]:
    """{specialist pk: "Profiles CSV import, row N"} for the specialists of the file, as the import words it."""
    pk_of = dict(Specialist.objects.filter(npi__in=npis_by_row.values()).values_list("npi", "pk"))
    return {pk_of[npi]: f"Profiles CSV import, row {row}" for row, npi in npis_by_row.items() if npi in pk_of}


def import_then_save_one_by_one(text: str, npis_by_row: dict[int, str]) -> tuple[dict, dict]:
    """Import `text` in bulk and keep its history; roll back; make the same changes with a save() or delete()
    per object; return both histories."""
    user = UserFactory()
    before = last_history_ids()
    rolled_back = transaction.savepoint()
    run_import(text, user=user)
    bulk = history_since(before)
    final = {
        model: {row["id"]: row for row in model.objects.filter(pk__in=[h["id"] for h in bulk[model.__name__]]).values()}
        for model in MODELS
    }
    reason_of = row_reasons(npis_by_row)
    links = list(Affiliation.objects.values_list("specialist_id", "practice_id"))
    transaction.savepoint_rollback(rolled_back)

    def reason(model, pk) -> str:
        if model is Specialist:
            return reason_of[pk]
        if model is Practice:  # the first row that names it
            rows = [reason_of[s] for s, p in links if p == pk and s in reason_of]
            return min(rows, key=lambda text: int(text.rsplit(" ", 1)[1]))
        return reason_of[
            final[model][pk]["specialist_id"] if pk in final[model] else model.objects.get(pk=pk).specialist_id
        ]

    for model in MODELS:
        for entry in bulk[model.__name__]:
            pk, kind = entry["id"], entry["history_type"]
            if kind == "-":
                obj = model.objects.get(pk=pk)
            else:
                fields = [f for f in model._meta.concrete_fields if f.attname not in AUTO_TIMES and not f.generated]
                values = {f.attname: final[model][pk][f.attname] for f in fields}
                if model is Practice:
                    values = {name: value for name, value in values.items() if name not in PLACED}
                obj = model(**values) if kind == "+" else model.objects.get(pk=pk)
                for name, value in values.items():
                    setattr(obj, name, value)
            obj._change_reason = reason(model, pk)
            obj._history_user = user
            obj.delete() if kind == "-" else obj.save()
    return bulk, history_since(before)


def test_a_first_import_writes_the_history_of_a_save_per_object():
    text = profiles_file(5)  # two specialists per practice, trainings and counts on every row
    bulk, saved = import_then_save_one_by_one(text, {n + 1: make_npi(n) for n in range(1, 6)})

    assert [len(bulk[model.__name__]) for model in MODELS] == [5, 3, 10, 15]
    assert {row["history_type"] for rows in bulk.values() for row in rows} == {"+"}
    assert bulk == saved


def test_a_re_import_with_changes_writes_the_history_of_a_save_per_object():
    on_file = SpecialistFactory(npi=make_npi(1), credentials="DO", verified_at=None)
    TrainingFactory(specialist=on_file, course="Old course", year=2019)
    ProcedureVolumeFactory(
        specialist=on_file, procedure="mis_si_fusion", count=3, period_start="2025-01-01", period_end="2025-12-31"
    )
    other = SpecialistFactory(npi=make_npi(2))
    text = csv_text(
        profile(npi=make_npi(1), credentials="MD", phone="312-555-0142"),  # changed, new practice, new trainings
        profile(npi=make_npi(2), first_name=other.first_name, last_name=other.last_name, credentials="MD"),
        profile(npi=make_npi(3), last_name="Newcomer", practice_name="Demo Spine Center"),  # created, same practice
    )
    bulk, saved = import_then_save_one_by_one(text, {2: make_npi(1), 3: make_npi(2), 4: make_npi(3)})

    kinds = {(model, row["history_type"]) for model, rows in bulk.items() for row in rows}
    assert {("Specialist", "~"), ("Specialist", "+"), ("Training", "-"), ("ProcedureVolume", "~")} <= kinds
    assert bulk == saved
