"""Change history a curator can use: a baseline entry for every profile row that has none."""

from django.db.models import Model

from directory.models import Practice, ProcedureVolume, Specialist, Training

BASELINE_REASON = "Baseline: the record as it was when its history began"
PROFILE_MODELS = (Specialist, Practice, Training, ProcedureVolume)


def add_baseline_history(models: tuple[type[Model], ...] = PROFILE_MODELS, *, reason=BASELINE_REASON) -> int:
    """Create one "created" history entry for each row of these models that has no history; return how many.

    Rows written without model saves (fixtures, the bulk paths of the imports) have none, and simple-history
    shows "doesn't have a change history" for them, and no diff for their first change.
    """
    created = 0
    for model in models:
        without = model.objects.exclude(pk__in=model.history.values("id")).order_by("pk")
        while rows := list(without[:2000]):  # the rows just given history drop out of `without`
            created += len(model.history.bulk_history_create(rows, default_change_reason=reason, batch_size=2000))
    return created
