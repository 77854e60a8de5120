"""The search index: the one table the patient search reads."""

from django.db import models

from directory.models import Practice, Specialist

# --- Search index -------------------------------------------------------------------------------------


# What a search reads of each index row in its box (besides the coordinates): see referral.matching.scan_query().
SCANNED = ["id", "specialist", "practice", "last_name_key", "first_name_key", "valid_until", "past_year_mis_fusions"]
SCANNED += ["surgical_experience", "nonsurgical_experience", "training", "mis_fusion", "diagnostic_injection"]
SCANNED += ["conservative_care", "lumbar_fusion", "verified", "availability", "x", "y", "z"]


class SearchEntry(models.Model):
    """One located practice of one published specialist, with the origin-independent part-scores.

    Derived data, kept by referral.search_index.refresh_search_entries(): the patient search reads only
    this small table (published profiles are a few percent of all records) instead of scoring every
    candidate's counts and services on each request, and a result card's reasons and key facts need no
    recomputing. Rows are valid until `valid_until`, when a count leaves the past-year window or a verification
    ages; the search recomputes expired rows itself.
    """

    specialist = models.ForeignKey(Specialist, on_delete=models.CASCADE, related_name="search_entries")
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    latitude = models.FloatField()
    longitude = models.FloatField()
    # The location on the unit sphere (directory.geo.unit_vector): the circle's query tells by a dot product
    # which rows are surely within the radius and how far each is, to a ring (referral.matching.circle_query).
    x = models.FloatField()
    y = models.FloatField()
    z = models.FloatField()
    band = models.SmallIntegerField(help_text="The latitude band (directory.geo.latitude_band): leads the index.")
    last_name_key = models.TextField(help_text="The last name, casefolded: equal scores and distances sort by name.")
    first_name_key = models.TextField()
    surgical_experience = models.FloatField()
    nonsurgical_experience = models.FloatField()
    training = models.FloatField()
    mis_fusion = models.FloatField()
    diagnostic_injection = models.FloatField()
    conservative_care = models.FloatField()
    lumbar_fusion = models.FloatField()
    verified = models.FloatField()
    availability = models.FloatField(help_text="1 when accepting new patients, else 0.")
    past_year_mis_fusions = models.PositiveIntegerField(null=True, blank=True)
    valid_until = models.DateField(help_text="The first day these part-scores may no longer hold.")
    explanation = models.JSONField(
        default=dict,
        help_text='{language: {"reasons": {criterion: reason}, "facts": [key fact, …]}}: the page\'s text, as of now.',
    )
    inputs = models.CharField(
        max_length=32,
        default="",
        help_text="A digest of what the row was computed from (referral.search_index.inputs_digest): a refresh "
        "leaves rows whose digest still matches alone, without recomputing them.",
    )

    class Meta:
        verbose_name_plural = "search entries"
        constraints = [models.UniqueConstraint(fields=["specialist", "practice"], name="one_search_entry_per_place")]
        # Covering: a search reads the rows in its box from this index alone, band by band.
        indexes = [models.Index(fields=["band", "longitude", "latitude", *SCANNED], name="search_entry_box")]

    def __str__(self):
        return f"{self.specialist_id} at {self.practice_id}"


class SearchIndexStamp(models.Model):
    """One row whose token changes with every write to the search index, in the writing transaction.

    Database triggers set it (migration 0010), so no write is missed: the refresh, cascading deletes and raw SQL
    alike. Each process's copy of the index in memory (referral.resident) is good while the token it was read
    with is current. A random token, not a counter: a rolled-back write cannot leave a value that a later,
    different state of the index takes again.
    """

    token = models.CharField(max_length=36)

    def __str__(self):
        return self.token
