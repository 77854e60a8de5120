"""Who the SI-joint specialists are and where they practise."""

import datetime
import re
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.dispatch import Signal
from django.urls import reverse
from django.utils import timezone
from simple_history.models import HistoricalRecords

# --- NPI and ZIP rules -------------------------------------------------------------------------------


def npi_check_digit(first_nine: str) -> int:
    """Return the Luhn check digit of an NPI's first nine digits, computed over the "80840" prefix."""
    total = 0
    for position, char in enumerate(reversed("80840" + first_nine)):
        digit = int(char)
        if position % 2 == 0:  # doubled, counting from the right, as the check digit is appended
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return (10 - total % 10) % 10


def validate_npi(value: str) -> None:
    """Raise ValidationError unless `value` is a 10-digit NPI with a correct check digit."""
    if not re.fullmatch(r"[0-9]{10}", value or ""):
        raise ValidationError("An NPI has exactly 10 digits.", code="npi_format")
    if npi_check_digit(value[:9]) != int(value[9]):
        raise ValidationError(f"{value} is not a valid NPI (wrong check digit).", code="npi_check_digit")


ZIP_PATTERN = re.compile(r"([0-9]{5})(?:-?[0-9]{4})?")


def normalize_zip(raw) -> str:
    """Return the ZIP5 of "60611", "60611-1234", "606111234" or " 60611 "; raise ValidationError otherwise."""
    match = ZIP_PATTERN.fullmatch(str(raw or "").strip())
    if not match:
        raise ValidationError("ZIP codes have 5 digits (or ZIP+4, like 60611-1234).", code="zip_format")
    return match.group(1)


class ZipCodeQuerySet(models.QuerySet):
    def for_input(self, raw) -> "ZipCode":
        """Return the ZipCode for user input; a clear ValidationError for malformed or unknown ZIPs."""
        code = normalize_zip(raw)
        try:
            return self.get(code=code)
        except self.model.DoesNotExist:
            raise ValidationError(f"No such US ZIP: {code}", code="zip_unknown") from None


class ZipCode(models.Model):
    code = models.CharField("ZIP", max_length=5, primary_key=True)
    city = models.CharField(max_length=100)
    state = models.CharField(max_length=2, db_index=True)
    latitude = models.FloatField()
    longitude = models.FloatField()
    is_corrected = models.BooleanField(
        "corrected by a curator",
        default=False,
        help_text="Corrected centroids are kept when the ZIP table is reloaded.",
    )

    history = HistoricalRecords()
    objects = ZipCodeQuerySet.as_manager()

    class Meta:
        verbose_name = "ZIP code"
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(latitude__gte=-90, latitude__lte=90), name="zip_latitude_range"),
            models.CheckConstraint(condition=Q(longitude__gte=-180, longitude__lte=180), name="zip_longitude_range"),
        ]

    def __str__(self):
        return f"{self.code} {self.city}, {self.state}"

    @property
    def point(self) -> tuple[float, float]:
        return (self.latitude, self.longitude)


# --- Choices -----------------------------------------------------------------------------------------


class Specialty(models.TextChoices):
    ORTHOPAEDIC_SPINE = "orthopaedic_spine", "Orthopaedic spine surgery"
    NEUROSURGERY = "neurosurgery", "Neurosurgery"
    PAIN_MEDICINE = "pain_medicine", "Pain medicine"
    PMR = "pmr", "Physical medicine and rehabilitation (PM&R)"
    INTERVENTIONAL_RADIOLOGY = "interventional_radiology", "Interventional radiology"
    OTHER = "other", "Other"


class Service(models.TextChoices):
    """SI-joint services; each value is the name of a boolean field on Specialist."""

    DIAGNOSTIC_SI_INJECTION = "offers_diagnostic_si_injection", "Image-guided diagnostic SI-joint injection"
    THERAPEUTIC_SI_INJECTION = "offers_therapeutic_si_injection", "Therapeutic SI-joint injection"
    RF_ABLATION = "offers_rf_ablation", "SI-joint radiofrequency ablation"
    CONSERVATIVE_CARE = "offers_conservative_care", "Conservative care (PT, medication, pelvic belt)"
    MIS_SI_FUSION = "offers_mis_si_fusion", "Minimally invasive SI-joint fusion"
    OPEN_SI_FUSION = "offers_open_si_fusion", "Open SI-joint fusion"
    REVISION_SURGERY = "offers_revision_surgery", "SI-joint revision surgery"
    EVALUATES_SI_IN_LUMBAR_WORKUP = "evaluates_si_in_lumbar_workup", "Checks the SI joint in every low-back work-up"
    TREATS_POST_LUMBAR_FUSION = "treats_post_lumbar_fusion", "Treats pain after lumbar fusion"


class Procedure(models.TextChoices):
    MIS_SI_FUSION = "mis_si_fusion", "Minimally invasive SI-joint fusion"
    OPEN_SI_FUSION = "open_si_fusion", "Open SI-joint fusion"
    SI_INJECTION = "si_injection", "SI-joint injection"
    RF_ABLATION = "rf_ablation", "SI-joint RF ablation / nerve block"
    LUMBAR_FUSION = "lumbar_fusion", "Lumbar fusion"


# The code families each Procedure counts (CPT / HCPCS).
PROCEDURE_CODES = {
    Procedure.MIS_SI_FUSION: ("27279", "27278"),
    Procedure.OPEN_SI_FUSION: ("27280",),
    Procedure.SI_INJECTION: ("27096", "G0260"),
    Procedure.RF_ABLATION: ("64625", "64451"),
    Procedure.LUMBAR_FUSION: ("22612", "22630", "22633"),
}
PROCEDURE_BY_CODE = {code: procedure for procedure, codes in PROCEDURE_CODES.items() for code in codes}


class VolumeSource(models.TextChoices):
    SELF_REPORTED = "self_reported", "self-reported"
    CMS_MEDICARE = "cms_medicare", "CMS Medicare"
    REGISTRY = "registry", "registry"
    HOSPITAL = "hospital", "hospital"


class ReviewStatus(models.TextChoices):
    CURATED = "curated", "Curated"
    PENDING = "pending", "Awaiting review"
    DISMISSED = "dismissed", "Dismissed"


class RecordSource(models.TextChoices):
    CURATOR = "curator", "Entered by a curator"
    PROFILE_IMPORT = "profile_import", "Profiles CSV import"
    CMS_MEDICARE = "cms_medicare", "CMS Medicare import"
    NPPES = "nppes", "NPPES import"
    DEMO = "demo", "Demo data"


class CoordinatesSource(models.TextChoices):
    ZIP_CENTROID = "zip_centroid", "ZIP centroid"
    GEOCODER = "geocoder", "Geocoder"
    MANUAL = "manual", "Set by hand"


# --- Practices ---------------------------------------------------------------------------------------


class PracticeQuerySet(models.QuerySet):
    def within_box(self, box):
        return self.filter(latitude__range=(box.south, box.north), longitude__range=(box.west, box.east))

    def without_coordinates(self):
        return self.filter(Q(latitude__isnull=True) | Q(longitude__isnull=True))


class Practice(models.Model):
    name = models.CharField(max_length=200)
    address_line1 = models.CharField("address", max_length=200, blank=True)
    address_line2 = models.CharField("address (line 2)", max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=2, blank=True, db_index=True)
    zip_code = models.CharField("ZIP", max_length=5, blank=True, db_index=True)
    phone = models.CharField(max_length=30, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    coordinates_source = models.CharField(
        max_length=20,
        choices=CoordinatesSource.choices,
        blank=True,
        help_text="Coordinates from the ZIP centroid are refreshed when the ZIP changes; hand-set ones are kept.",
    )

    history = HistoricalRecords()
    objects = PracticeQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["latitude", "longitude"], name="practice_lat_lng")]
        constraints = [
            models.CheckConstraint(
                condition=Q(latitude__isnull=True) | Q(latitude__gte=-90, latitude__lte=90),
                name="practice_latitude_range",
            ),
            models.CheckConstraint(
                condition=Q(longitude__isnull=True) | Q(longitude__gte=-180, longitude__lte=180),
                name="practice_longitude_range",
            ),
        ]

    def __str__(self):
        where = ", ".join(part for part in (self.city, self.state) if part)
        return f"{self.name} ({where})" if where else self.name

    def save(self, *args, **kwargs):
        if self.coordinates_source in ("", CoordinatesSource.ZIP_CENTROID):
            self.set_coordinates_from_zip()
        super().save(*args, **kwargs)

    @property
    def point(self):
        return None if self.latitude is None or self.longitude is None else (self.latitude, self.longitude)

    @property
    def address(self) -> str:
        """Return the one-line postal address."""
        street = ", ".join(part for part in (self.address_line1, self.address_line2) if part)
        return ", ".join(part for part in (street, self.city, f"{self.state} {self.zip_code}".strip()) if part)

    def set_coordinates_from_zip(self):
        """Place the practice at its ZIP centroid (or nowhere, if the ZIP is unknown)."""
        self.place_at_centroid(ZipCode.objects.filter(code=self.zip_code).first() if self.zip_code else None)

    def place_at_centroid(self, zip_code: "ZipCode | None"):
        """Place the practice at this ZipCode's centroid; None (an unknown ZIP) leaves it unplaced."""
        if zip_code is None:
            self.latitude = self.longitude = None
            self.coordinates_source = ""
        else:
            self.latitude, self.longitude = zip_code.latitude, zip_code.longitude
            self.coordinates_source = CoordinatesSource.ZIP_CENTROID


# --- Specialists -------------------------------------------------------------------------------------


# Data derived from profiles elsewhere (the referral search index) listens for this signal, sent with
# `ids`, the set of Specialist pks whose profile, practices, counts or training changed.
specialists_changed = Signal()
_batched_changes: ContextVar[set | None] = ContextVar("batched_specialist_changes", default=None)


def specialists_touched(ids) -> None:
    """Announce changed specialists now, or once at the end of the enclosing batch_changes() block."""
    ids = set(ids)
    pending = _batched_changes.get()
    if pending is not None:
        pending.update(ids)
    elif ids:
        specialists_changed.send(sender=Specialist, ids=ids)


@contextmanager
def batch_changes():
    """Collect specialists_touched() calls (model saves and bulk writes) and announce them once, on success.

    Imports use it so that a specialist written row by row is re-derived once, not on every save.
    """
    if _batched_changes.get() is not None:  # nested: the outer block announces
        yield
        return
    pending: set = set()
    token = _batched_changes.set(pending)
    try:
        yield
    finally:
        _batched_changes.reset(token)
    specialists_touched(pending)


class SpecialistQuerySet(models.QuerySet):
    def published(self):
        return self.filter(is_published=True)

    def awaiting_review(self):
        return self.filter(review_status=ReviewStatus.PENDING)

    def offering(self, *services):
        return self.filter(**{Service(service).value: True for service in services})

    def within_box(self, box):
        return self.filter(
            practices__latitude__range=(box.south, box.north),
            practices__longitude__range=(box.west, box.east),
        ).distinct()

    def with_past_year_volume(self, *, today=None):
        """Return specialists with at least one count that stands for a past year (see select_past_year_volume)."""
        return self.filter(pk__in=ProcedureVolume.objects.past_year(today=today).values("specialist_id"))

    def without_past_year_volume(self, *, today=None):
        return self.exclude(pk__in=ProcedureVolume.objects.past_year(today=today).values("specialist_id"))


class Specialist(models.Model):
    npi = models.CharField(  # noqa: DJ001 - NULL, not "", so that "unique when present" holds
        "NPI",
        max_length=10,
        null=True,
        blank=True,
        validators=[validate_npi],
        help_text="National Provider Identifier: 10 digits.",
    )
    first_name = models.CharField(max_length=100)
    middle_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100)
    credentials = models.CharField(max_length=100, blank=True, help_text="For example: MD, DO, FAAOS")
    specialty = models.CharField(max_length=30, choices=Specialty.choices, default=Specialty.OTHER, db_index=True)
    languages = models.CharField(max_length=200, blank=True, help_text="Separated by semicolons: English; Spanish")
    gender = models.CharField(
        max_length=1, blank=True, choices=[("F", "Female"), ("M", "Male"), ("X", "Another gender")]
    )
    accepting_new_patients = models.BooleanField(default=True)
    telehealth = models.BooleanField("offers telehealth", default=False)
    bio = models.TextField(blank=True)
    website = models.URLField(blank=True)

    # SI-joint services (see Service)
    offers_diagnostic_si_injection = models.BooleanField(Service.DIAGNOSTIC_SI_INJECTION.label, default=False)
    offers_therapeutic_si_injection = models.BooleanField(Service.THERAPEUTIC_SI_INJECTION.label, default=False)
    offers_rf_ablation = models.BooleanField(Service.RF_ABLATION.label, default=False)
    offers_conservative_care = models.BooleanField(Service.CONSERVATIVE_CARE.label, default=False)
    offers_mis_si_fusion = models.BooleanField(Service.MIS_SI_FUSION.label, default=False)
    offers_open_si_fusion = models.BooleanField(Service.OPEN_SI_FUSION.label, default=False)
    offers_revision_surgery = models.BooleanField(Service.REVISION_SURGERY.label, default=False)
    evaluates_si_in_lumbar_workup = models.BooleanField(Service.EVALUATES_SI_IN_LUMBAR_WORKUP.label, default=False)
    treats_post_lumbar_fusion = models.BooleanField(Service.TREATS_POST_LUMBAR_FUSION.label, default=False)

    practices = models.ManyToManyField(Practice, through="Affiliation", related_name="specialists", blank=True)

    # Publishing and verification
    is_published = models.BooleanField("published", default=False, db_index=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    verification_notes = models.TextField(blank=True)

    # Provenance and the import review queue
    record_source = models.CharField(max_length=20, choices=RecordSource.choices, default=RecordSource.CURATOR)
    review_status = models.CharField(
        max_length=10, choices=ReviewStatus.choices, default=ReviewStatus.CURATED, db_index=True
    )
    curator_edited_fields = models.JSONField(
        default=list, blank=True, help_text="Fields a curator changed by hand; imports never overwrite them."
    )
    deactivated_on = models.DateField("NPI deactivated on", null=True, blank=True)
    unpublished_reason = models.CharField(max_length=200, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])
    objects = SpecialistQuerySet.as_manager()

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["npi"], condition=Q(npi__isnull=False), name="unique_npi_when_present"),
            models.CheckConstraint(condition=~Q(npi=""), name="npi_null_not_blank"),
        ]

    def __str__(self):
        return self.display_name

    def get_absolute_url(self):
        return reverse("referral:specialist-detail", args=[self.pk])

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.middle_name, self.last_name) if part)

    @property
    def display_name(self) -> str:
        return f"{self.full_name}, {self.credentials}" if self.credentials else self.full_name

    @property
    def services(self) -> list[str]:
        """Return the Service values this specialist offers, in Service order."""
        return [service.value for service in Service if getattr(self, service.value)]

    @property
    def language_list(self) -> list[str]:
        return [lang.strip() for lang in self.languages.split(";") if lang.strip()]

    def past_year_volume(self, procedure, *, today=None) -> "ProcedureVolume | None":
        """Return the count that stands for this procedure's past year, or None (uses prefetched volumes)."""
        return select_past_year_volume(self.volumes.all(), procedure, today=today)

    def data_quality_hints(self, *, today=None) -> list[str]:
        """Return what a curator should fix or check on this profile, in plain words."""
        hints = []
        if not self.npi:
            hints.append("No NPI: this profile cannot be matched with CMS or NPPES data.")
        if self.deactivated_on:
            hints.append(f"NPPES lists this NPI as deactivated on {self.deactivated_on:%Y-%m-%d}.")
        practices = list(self.practices.all())
        if not practices:
            hints.append("No practice: this profile cannot appear in nearby searches.")
        hints += [
            f"Practice “{practice.name}” has no coordinates (missing or unknown ZIP): it cannot appear in searches."
            for practice in practices
            if practice.point is None
        ]
        volumes = list(self.volumes.all())
        if not volumes:
            hints.append("No procedure counts on file.")
        for procedure in Procedure:
            of_procedure = [v for v in volumes if v.procedure == procedure]
            if of_procedure and select_past_year_volume(of_procedure, procedure, today=today) is None:
                latest = max(v.period_end for v in of_procedure)
                hints.append(
                    f"{procedure.label} count is stale: no twelve-month count ending in the last "
                    f"{settings.SIJ_VOLUME_WINDOW_MONTHS} months (latest period ended {latest:%b %Y})."
                )
        return hints


class Affiliation(models.Model):
    """A specialist practising at a practice."""

    specialist = models.ForeignKey(Specialist, on_delete=models.CASCADE)
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE)
    is_primary = models.BooleanField("primary location", default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["specialist", "practice"], name="unique_affiliation"),
        ]

    def __str__(self):
        return f"{self.specialist} at {self.practice}"


class Training(models.Model):
    """SI-joint-specific training: a course, fellowship or device-system training."""

    specialist = models.ForeignKey(Specialist, on_delete=models.CASCADE, related_name="trainings")
    course = models.CharField(max_length=200)
    provider = models.CharField("organised by", max_length=200, blank=True)
    device_system = models.CharField(max_length=100, blank=True)
    year = models.PositiveSmallIntegerField(null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-year", "course"]
        constraints = [
            models.CheckConstraint(
                condition=Q(year__isnull=True) | Q(year__gte=1950, year__lte=2100), name="training_year_range"
            ),
        ]

    def __str__(self):
        return f"{self.course} ({self.year})" if self.year else self.course


# --- Procedure volumes -------------------------------------------------------------------------------

# Preference among counts for the same period: verified first, then the most complete source
# (CMS covers Medicare fee-for-service patients only, so it is a floor, not the whole practice).
SOURCE_PREFERENCE = [
    VolumeSource.REGISTRY,
    VolumeSource.HOSPITAL,
    VolumeSource.SELF_REPORTED,
    VolumeSource.CMS_MEDICARE,
]
# A "past year" count covers roughly twelve months.
YEAR_PERIOD_DAYS = range(334, 397)


def months_before(day: datetime.date, months: int) -> datetime.date:
    """Return the same day `months` months earlier (clamped to the month's last day)."""
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    month += 1
    for candidate_day in range(day.day, 27, -1):
        try:
            return datetime.date(year, month, candidate_day)
        except ValueError:
            continue
    return datetime.date(year, month, min(day.day, 28))


def past_year_window(today=None) -> tuple[datetime.date, datetime.date]:
    """Return (oldest_end, today): a count stands for a past year only if its period ends between them."""
    today = today or timezone.localdate()
    return months_before(today, settings.SIJ_VOLUME_WINDOW_MONTHS), today


def select_past_year_volume(volumes, procedure, *, today=None):
    """Return the volume that stands for `procedure`'s past year, or None.

    That is the latest twelve-month count whose period ended within SIJ_VOLUME_WINDOW_MONTHS of today;
    for the same period, a verified count beats an unverified one, then sources by SOURCE_PREFERENCE.
    ProcedureVolumeQuerySet.past_year() is the same eligibility rule in SQL.
    """
    oldest_end, today = past_year_window(today)
    current = [
        v
        for v in volumes
        if v.procedure == procedure
        and oldest_end <= v.period_end <= today
        and (v.period_end - v.period_start).days in YEAR_PERIOD_DAYS
    ]
    if not current:
        return None
    return max(
        current,
        key=lambda v: (v.period_end, v.verified, -SOURCE_PREFERENCE.index(v.source)),
    )


class ProcedureVolumeQuerySet(models.QuerySet):
    def past_year(self, *, today=None):
        """Return the counts eligible to stand for a past year: select_past_year_volume's rule, in SQL."""
        oldest_end, today = past_year_window(today)
        length = models.ExpressionWrapper(models.F("period_end") - models.F("period_start"), models.DurationField())
        return self.alias(length=length).filter(
            period_end__range=(oldest_end, today),
            length__gte=datetime.timedelta(days=YEAR_PERIOD_DAYS.start),
            length__lt=datetime.timedelta(days=YEAR_PERIOD_DAYS.stop),
        )


class ProcedureVolume(models.Model):
    """How many of one procedure one specialist performed over one period, and who says so."""

    specialist = models.ForeignKey(Specialist, on_delete=models.CASCADE, related_name="volumes")
    procedure = models.CharField(max_length=20, choices=Procedure.choices)
    period_start = models.DateField()
    period_end = models.DateField()
    count = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty when the source suppressed a small count."
    )
    beneficiaries = models.PositiveIntegerField(null=True, blank=True, help_text="Distinct patients, when known.")
    is_suppressed = models.BooleanField(
        "suppressed by source", default=False, help_text="The source withheld a small count (e.g. CMS, under 11)."
    )
    source = models.CharField(max_length=20, choices=VolumeSource.choices)
    verified = models.BooleanField(default=False)
    notes = models.CharField(max_length=200, blank=True)

    history = HistoricalRecords()
    objects = ProcedureVolumeQuerySet.as_manager()

    class Meta:
        ordering = ["procedure", "-period_end", "source"]
        constraints = [
            models.UniqueConstraint(
                fields=["specialist", "procedure", "period_start", "period_end", "source"],
                name="one_volume_per_specialist_procedure_period_source",
            ),
            models.CheckConstraint(condition=Q(count__gte=0), name="volume_count_not_negative"),
            models.CheckConstraint(condition=Q(beneficiaries__gte=0), name="volume_beneficiaries_not_negative"),
            models.CheckConstraint(condition=Q(period_end__gte=models.F("period_start")), name="volume_period_ordered"),
            models.CheckConstraint(
                condition=Q(is_suppressed=False) | Q(count__isnull=True), name="suppressed_volume_has_no_count"
            ),
        ]

    def __str__(self):
        count = "not published" if self.is_suppressed else self.count
        return f"{self.get_procedure_display()}: {count} ({self.period_start:%b %Y}–{self.period_end:%b %Y})"

    def clean(self):
        if self.period_start and self.period_end and self.period_end < self.period_start:
            raise ValidationError({"period_end": "The period cannot end before it starts."})
        if self.is_suppressed and self.count is not None:
            raise ValidationError({"count": "Leave the count empty when the source suppressed it."})
        if not self.is_suppressed and self.count is None:
            raise ValidationError({"count": "Enter the count, or tick 'suppressed by source'."})


class SourceRecord(models.Model):
    """What an outside source (CMS, NPPES) last said about a specialist, as imported."""

    specialist = models.ForeignKey(Specialist, on_delete=models.CASCADE, related_name="source_records")
    source = models.CharField(max_length=20, choices=RecordSource.choices)
    data = models.JSONField(default=dict)
    imported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["specialist", "source"], name="one_source_record_per_source"),
        ]

    def __str__(self):
        return f"{self.get_source_display()} for {self.specialist}"


class ReviewStub(Specialist):
    """A specialist an import (CMS, NPPES) found, as seen in the curators' import review queue."""

    class Meta:
        proxy = True
        verbose_name = "import review queue entry"
        verbose_name_plural = "Import review queue"
