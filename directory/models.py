"""Who the SI-joint specialists are and where they practise."""

import datetime
import functools
import re
from contextlib import contextmanager
from contextvars import ContextVar
from typing import NamedTuple

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.dispatch import Signal
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from directory import geo

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
        raise ValidationError(_("ZIP codes have 5 digits (or ZIP+4, like 60611-1234)."), code="zip_format")
    return match.group(1)


# The US states, DC and the territories the directory covers (the freely associated states of Micronesia,
# the Marshall Islands and Palau use US ZIPs but are other countries). One home: ZIPs, practices, imports.
US_STATES_AND_TERRITORIES = frozenset(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND "  # noqa: SIM905
    "OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR VI GU MP AS".split()
)
# "States" of the military post: Armed Forces Americas, Europe, Pacific.
MILITARY_STATES = frozenset({"AA", "AE", "AP"})


def in_us_area_q(prefix=""):
    """Return a Q that holds where latitude and longitude lie in geo.US_AREAS (for CheckConstraints)."""
    condition = Q()
    for box in geo.US_AREAS.values():
        condition |= Q(
            **{f"{prefix}latitude__gte": box.south, f"{prefix}latitude__lte": box.north},
            **{f"{prefix}longitude__gte": box.west, f"{prefix}longitude__lte": box.east},
        )
    return condition


def is_phone_number(raw) -> bool:
    """Return whether `raw` is a dialable phone number (US numbers may omit +1): "555" is not, 312-555-0142 is."""
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(str(raw or ""), "US"))
    except phonenumbers.NumberParseException:
        return False


def validate_phone(value) -> None:
    if value and not is_phone_number(value):
        raise ValidationError(
            f"“{value}” is not a phone number: give the area code, like 312-555-0142.", code="phone_invalid"
        )


def verification_max_months() -> int:
    """Return after how many months a profile's verification is due again (SIJ_VERIFICATION_MAX_MONTHS, 12)."""
    return getattr(settings, "SIJ_VERIFICATION_MAX_MONTHS", 12)


def verification_cutoff(today=None) -> datetime.datetime:
    """Return the moment before which a verification is too old to stand (today minus the maximum months)."""
    from directory.volumes import add_months  # volumes.py reads this module's choices

    today = today or timezone.localdate()
    day = add_months(today, -verification_max_months())
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


class ZipKind(models.TextChoices):
    STANDARD = "standard", _("street addresses")
    PO_BOX = "po_box", _("PO boxes only")
    UNIQUE = "unique", _("a single organisation")
    MILITARY = "military", _("military (APO/FPO/DPO)")


class ZipCodeQuerySet(models.QuerySet):
    def located(self):
        return self.filter(latitude__isnull=False)

    def for_input(self, raw) -> "ZipCode":
        """Return the located ZipCode for user input; a clear ValidationError for ZIPs no one can be placed at.

        Malformed, unknown, military (APO/FPO/DPO) and unlocatable ZIPs are refused with a sentence that says
        what to enter instead: the search page and API, shortlist origins, practices and imports all call this.
        """
        code = normalize_zip(raw)
        return located_zip(code, self.filter(code=code).first())


def located_zip(code: str, zip_code: "ZipCode | None") -> "ZipCode":
    """Return `zip_code` (the ZipCode row of `code`, or None) if someone can be placed at it; else ValidationError."""
    if zip_code is None:
        raise ValidationError(gettext("No such US ZIP: %(code)s") % {"code": code}, code="zip_unknown")
    if problem := zip_code.location_problem:
        raise ValidationError(problem, code="zip_unlocated")
    return zip_code


class ZipCode(models.Model):
    code = models.CharField("ZIP", max_length=5, primary_key=True)
    city = models.CharField(max_length=100)
    state = models.CharField(max_length=2, db_index=True)
    kind = models.CharField("serves", max_length=10, choices=ZipKind.choices, default=ZipKind.STANDARD)
    is_active = models.BooleanField(
        "in use", default=True, help_text="USPS no longer delivers to retired ZIPs; they still name their place."
    )
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    is_estimated = models.BooleanField(
        "approximate location",
        default=False,
        help_text="The source gives no location for this ZIP; it is placed at the centre of the other ZIPs "
        "of its city and state.",
    )
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
            models.CheckConstraint(
                condition=Q(latitude__isnull=True, longitude__isnull=True) | in_us_area_q(),
                name="zip_located_in_us_area",
            ),
        ]

    def __str__(self):
        return f"{self.code} {self.city}, {self.state}"

    @property
    def point(self) -> tuple[float, float] | None:
        return None if self.latitude is None or self.longitude is None else (self.latitude, self.longitude)

    @property
    def location_problem(self) -> str:
        """Return why no one can be placed at this ZIP, in a sentence that says what to do ("" when located)."""
        # In the visitor's language: the search page shows these sentences (the admin and imports, in English).
        words = {"code": self.code, "city": self.city, "state": self.state, "kind": self.get_kind_display()}
        words["instead"] = gettext("enter the ZIP code where you live or will be treated")
        if self.kind == ZipKind.MILITARY or self.state in MILITARY_STATES:
            return gettext("%(code)s is a military (APO/FPO/DPO) address with no fixed location; %(instead)s.") % words
        if self.state not in US_STATES_AND_TERRITORIES:
            return (
                gettext(
                    "%(code)s (%(city)s, %(state)s) is outside the US states and territories this directory "
                    "covers; %(instead)s."
                )
                % words
            )
        if self.point is None:
            return (
                gettext("%(code)s (%(city)s, %(state)s) serves %(kind)s and has no known location; %(instead)s.")
                % words
            )
        return ""

    def clean(self):
        if (self.latitude is None) != (self.longitude is None):
            raise ValidationError("Enter both latitude and longitude, or neither.")
        if self.point is not None and not geo.in_us_area(self.point):
            raise ValidationError(
                f"{self.latitude}, {self.longitude} is outside the US states and territories: "
                "check the signs (US longitudes are negative, except in the western Aleutians, Guam and the "
                "Northern Mariana Islands)."
            )


# --- Choices -----------------------------------------------------------------------------------------


class Specialty(models.TextChoices):
    ORTHOPAEDIC_SPINE = "orthopaedic_spine", _("Orthopaedic spine surgery")
    NEUROSURGERY = "neurosurgery", _("Neurosurgery")
    PAIN_MEDICINE = "pain_medicine", _("Pain medicine")
    PMR = "pmr", _("Physical medicine and rehabilitation (PM&R)")
    INTERVENTIONAL_RADIOLOGY = "interventional_radiology", _("Interventional radiology")
    OTHER = "other", _("Other")


class Service(models.TextChoices):
    """SI-joint services; each value is the name of a boolean field on Specialist."""

    DIAGNOSTIC_SI_INJECTION = "offers_diagnostic_si_injection", _("Image-guided diagnostic SI-joint injection")
    THERAPEUTIC_SI_INJECTION = "offers_therapeutic_si_injection", _("Therapeutic SI-joint injection")
    RF_ABLATION = "offers_rf_ablation", _("SI-joint radiofrequency ablation")
    CONSERVATIVE_CARE = "offers_conservative_care", _("Conservative care (PT, medication, pelvic belt)")
    MIS_SI_FUSION = "offers_mis_si_fusion", _("Minimally invasive SI-joint fusion")
    OPEN_SI_FUSION = "offers_open_si_fusion", _("Open SI-joint fusion")
    REVISION_SURGERY = "offers_revision_surgery", _("SI-joint revision surgery")
    EVALUATES_SI_IN_LUMBAR_WORKUP = "evaluates_si_in_lumbar_workup", _("Checks the SI joint in every low-back work-up")
    TREATS_POST_LUMBAR_FUSION = "treats_post_lumbar_fusion", _("Treats pain after lumbar fusion")


class Procedure(models.TextChoices):
    MIS_SI_FUSION = "mis_si_fusion", _("Minimally invasive SI-joint fusion")
    OPEN_SI_FUSION = "open_si_fusion", _("Open SI-joint fusion")
    SI_INJECTION = "si_injection", _("SI-joint injection")
    RF_ABLATION = "rf_ablation", _("SI-joint RF ablation / nerve block")
    LUMBAR_FUSION = "lumbar_fusion", _("Lumbar fusion")


# The code families each Procedure counts (CPT / HCPCS).
PROCEDURE_CODES = {
    Procedure.MIS_SI_FUSION: ("27279", "27278"),
    Procedure.OPEN_SI_FUSION: ("27280",),
    Procedure.SI_INJECTION: ("27096", "G0260"),
    Procedure.RF_ABLATION: ("64625", "64451"),
    Procedure.LUMBAR_FUSION: ("22612", "22630", "22633"),
}
PROCEDURE_BY_CODE = {code: procedure for procedure, codes in PROCEDURE_CODES.items() for code in codes}
# The SI-joint procedures: their past-year counts rank specialists and let a profile be published. Lumbar-fusion
# counts are shown for context only.
SI_JOINT_PROCEDURES = (Procedure.MIS_SI_FUSION, Procedure.OPEN_SI_FUSION, Procedure.SI_INJECTION, Procedure.RF_ABLATION)
# The services a count of each procedure shows a specialist offers (a count with all of them off contradicts itself).
PROCEDURE_SERVICES = {
    Procedure.MIS_SI_FUSION: (Service.MIS_SI_FUSION,),
    Procedure.OPEN_SI_FUSION: (Service.OPEN_SI_FUSION,),
    Procedure.SI_INJECTION: (Service.DIAGNOSTIC_SI_INJECTION, Service.THERAPEUTIC_SI_INJECTION),
    Procedure.RF_ABLATION: (Service.RF_ABLATION,),
}


class VolumeSource(models.TextChoices):
    SELF_REPORTED = "self_reported", _("self-reported")
    CMS_MEDICARE = "cms_medicare", _("CMS Medicare")
    REGISTRY = "registry", _("registry")
    HOSPITAL = "hospital", _("hospital")


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


class CoordinatesPrecision(models.TextChoices):
    """How exactly a practice's coordinates place it (hand-set coordinates are taken as exact)."""

    ROOFTOP = "rooftop", "Building (the street address itself)"
    STREET = "street", "Street (along the right street)"
    AREA = "area", "Area (the geocoder placed it no closer than a neighbourhood or town)"
    ZIP_CENTROID = "zip_centroid", "ZIP code centre"


EXACT_PRECISIONS = (CoordinatesPrecision.ROOFTOP, CoordinatesPrecision.STREET)


def normalize_address(street: str, city: str, state: str, zip_code: str) -> str:
    """Return the one-line address a geocoder is asked about, written one way: the key of its cached answer.

    Line 2 (suite, floor) is left out: it does not move the building, and it confuses geocoders.
    """
    text = ", ".join(part for part in (street, city, f"{state} {zip_code}".strip()) if part and part.strip())
    text = re.sub(r"\s*,\s*", ", ", text.replace(".", " "))
    return re.sub(r"\s+", " ", text).strip(" ,").casefold()


# --- Insurance ---------------------------------------------------------------------------------------


class InsuranceKind(models.TextChoices):
    PUBLIC = "public", "Public programme"
    COMMERCIAL = "commercial", "Commercial carrier"
    OTHER = "other", "Other"


class InsuranceManager(models.Manager):
    def get_by_natural_key(self, code):
        return self.get(code=code)


# The seeded names that are words rather than a programme's or carrier's own name: listed here so that
# makemessages puts them in the catalogue. Names curators add show as typed.
TRANSLATABLE_INSURANCE_NAMES = (gettext_noop("Workers' compensation"), gettext_noop("Self-pay (no insurance)"))


class Insurance(models.Model):
    """One entry of the curated list of insurance a practice may accept: a public programme (Medicare,
    TRICARE), a commercial carrier (Aetna), workers' compensation or self-pay.

    A list curators keep (migration 0018 loads the first entries), not free text: patients filter by it, and
    the same carrier must not appear under three spellings. It names programmes and carriers, not their
    individual plans: offices answer "do you take Aetna?", and a plan-level list would be out of date before
    it was complete.
    """

    code = models.SlugField(
        max_length=40, unique=True, help_text="Used in the profiles CSV and the API, e.g. medicare, aetna."
    )
    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=InsuranceKind.choices, default=InsuranceKind.COMMERCIAL)
    position = models.PositiveSmallIntegerField(default=100, help_text="Lists show lower numbers first.")

    history = HistoricalRecords()
    objects = InsuranceManager()

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "insurance"

    def __str__(self):
        return self.name

    @property
    def display_name(self):
        """The name in the active language, for patients' pages (the admin, CSV, API and FHIR keep `name`)."""
        return gettext(self.name)

    def natural_key(self):
        return (self.code,)


# --- Practices ---------------------------------------------------------------------------------------


class PracticeQuerySet(models.QuerySet):
    def without_coordinates(self):
        return self.filter(Q(latitude__isnull=True) | Q(longitude__isnull=True))

    def accepting(self, insurance):
        """Return the practices whose confirmed insurance list includes `insurance` (an Insurance)."""
        return self.filter(insurance=insurance, insurance_confirmed_on__isnull=False)


def parse_phone(phone: str) -> "phonenumbers.PhoneNumber | None":
    """Return the parsed phone number (US numbers may omit +1), or None when there is none or it does not parse."""
    try:
        number = phonenumbers.parse(phone, "US") if phone else None
    except phonenumbers.NumberParseException:
        return None
    return number if number is not None and phonenumbers.is_valid_number(number) else None


class PhoneFormats(NamedTuple):
    tel: str
    e164: str
    display: str


@functools.lru_cache(maxsize=8192)
def phone_formats(phone: str) -> PhoneFormats:
    """Return a practice phone's tel: URI, E.164 and display forms, remembered per process: parsing is about a
    twentieth of a results page's CPU (a page shows each phone twice), and the same text always formats the same."""
    number = parse_phone(phone)
    if number is None:
        return PhoneFormats("", "", phone)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if number.country_code == 1
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    tel = f"tel:{e164};ext={number.extension}" if number.extension else f"tel:{e164}"
    return PhoneFormats(tel, e164, phonenumbers.format_number(number, style))


class Practice(models.Model):
    name = models.CharField(max_length=200)
    address_line1 = models.CharField("address", max_length=200, blank=True)
    address_line2 = models.CharField("address (line 2)", max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=2, blank=True, db_index=True)
    zip_code = models.CharField("ZIP", max_length=5, blank=True, db_index=True)
    phone = models.CharField(max_length=30, blank=True, validators=[validate_phone])
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    coordinates_source = models.CharField(
        max_length=20,
        choices=CoordinatesSource.choices,
        blank=True,
        help_text="Coordinates from the ZIP centroid are refreshed when the ZIP changes; hand-set ones are kept.",
    )
    outside_us = models.BooleanField(
        "outside the US",
        default=False,
        help_text="An address outside the US and its territories (from NPPES or CMS): never placed, never searched.",
    )
    coordinates_precision = models.CharField(
        max_length=20,
        choices=CoordinatesPrecision.choices,
        blank=True,
        help_text="How exactly the coordinates place the practice; distances from a ZIP centre are shown as "
        "approximate.",
    )
    geocoded_address = models.CharField(
        max_length=400,
        blank=True,
        help_text="The address the geocoder placed (normalised); when the address changes, the practice goes back "
        "to its ZIP centroid until it is geocoded again.",
    )
    insurance = models.ManyToManyField(
        Insurance,
        blank=True,
        related_name="practices",
        verbose_name="insurance accepted",
        help_text="As the office confirmed it on the date below. Leave the date empty while it is not known.",
    )
    # One date for the whole list: offices confirm their list in one call, and a list re-confirmed is
    # re-confirmed whole. Empty: not known (patients see "not on file", never "none").
    insurance_confirmed_on = models.DateField(
        "insurance confirmed on",
        null=True,
        blank=True,
        help_text="When the office confirmed the insurance list. With a date and no insurance ticked, the "
        "practice accepts none of the listed insurance.",
    )
    # FHIR's meta.lastUpdated and _lastUpdated search of the practice's Location and Organization.
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"], m2m_fields=[insurance])
    objects = PracticeQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["latitude", "longitude"], name="practice_lat_lng")]
        constraints = [
            models.CheckConstraint(
                condition=Q(latitude__isnull=True, longitude__isnull=True) | in_us_area_q(),
                name="practice_located_in_us_area",
            ),
        ]

    def __str__(self):
        where = ", ".join(part for part in (self.city, self.state) if part)
        return f"{self.name} ({where})" if where else self.name

    def save(self, *args, **kwargs):
        if self.coordinates_source == CoordinatesSource.GEOCODER and self.geocoded_address != self.normalized_address:
            self.coordinates_source = ""  # geocoded for an address it no longer has
        if self.coordinates_source in ("", CoordinatesSource.ZIP_CENTROID) or self.is_outside_us:
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

    @property
    def phone_number(self) -> "phonenumbers.PhoneNumber | None":
        """Return the parsed phone number (US numbers may omit +1), or None when there is none or it does not parse."""
        return parse_phone(self.phone)

    @property
    def phone_tel(self) -> str:
        """Return the phone as a tel: URI in E.164 (RFC 3966: ";ext=12" for an extension), or "" when there is none."""
        return phone_formats(self.phone).tel

    @property
    def phone_e164(self) -> str:
        return phone_formats(self.phone).e164

    @property
    def phone_display(self) -> str:
        """Return the phone as dialled at home: (312) 555-0142 in the US and territories, else international."""
        return phone_formats(self.phone).display

    @property
    def normalized_address(self) -> str:
        return normalize_address(self.address_line1, self.city, self.state, self.zip_code)

    @property
    def insurance_known(self) -> bool:
        """Whether the office confirmed which insurance it accepts (if not, nothing may be said either way)."""
        return self.insurance_confirmed_on is not None

    @property
    def has_exact_location(self) -> bool:
        """Whether a distance to this practice may be shown to a tenth of a mile (not from a ZIP centre)."""
        if self.point is None:
            return False
        return self.coordinates_source == CoordinatesSource.MANUAL or (
            self.coordinates_source == CoordinatesSource.GEOCODER and self.coordinates_precision in EXACT_PRECISIONS
        )

    @property
    def is_outside_us(self) -> bool:
        """Whether the address is outside the US states and territories (kept out of the search).

        Flagged by the NPPES and CMS imports from the country (`outside_us`), or told by a non-US state code.
        """
        return self.outside_us or (bool(self.state) and self.state.upper() not in US_STATES_AND_TERRITORIES)

    def clean(self):
        if (self.latitude is None) != (self.longitude is None):
            raise ValidationError("Enter both latitude and longitude, or leave both empty to use the ZIP centroid.")
        if self.point is not None and not geo.in_us_area(self.point):
            raise ValidationError(
                {
                    "latitude": f"{self.latitude}, {self.longitude} is outside the US states and territories: "
                    "check the signs (US longitudes are negative, except in the western Aleutians, Guam and the "
                    "Northern Mariana Islands)."
                }
            )

    def set_coordinates_from_zip(self):
        """Place the practice at its ZIP centroid (or nowhere, if the ZIP is unknown or has no location)."""
        self.place_at_centroid(ZipCode.objects.filter(code=self.zip_code).first() if self.zip_code else None)

    def place_at_centroid(self, zip_code: "ZipCode | None"):
        """Place the practice at this ZipCode's centroid, or leave it unplaced.

        Unplaced: an unknown ZIP (None), a ZIP no one can be placed at (ZipCode.location_problem: military,
        no location, outside the US) and an address outside the US states and territories.
        """
        self.geocoded_address = ""
        if zip_code is None or zip_code.location_problem or self.is_outside_us:
            self.latitude = self.longitude = None
            self.coordinates_source = self.coordinates_precision = ""
        else:
            self.latitude, self.longitude = zip_code.latitude, zip_code.longitude
            self.coordinates_source = CoordinatesSource.ZIP_CENTROID
            self.coordinates_precision = CoordinatesPrecision.ZIP_CENTROID

    def location_problem(self, zip_code: "ZipCode | None" = None) -> str:
        """Return why this practice cannot appear in searches, in plain words ("" when it can)."""
        if self.is_outside_us:
            return f"The address is outside the US states and territories ({self.state}): kept out of the search."
        if self.point is not None:
            return ""
        if not self.zip_code:
            return "No ZIP and no coordinates: it cannot appear in searches."
        zip_code = zip_code or ZipCode.objects.filter(code=self.zip_code).first()
        if zip_code is None:
            return f"ZIP {self.zip_code} is not a known US ZIP: it cannot appear in searches."
        return (zip_code.location_problem or f"ZIP {self.zip_code} gives no coordinates.").split(";")[0] + (
            ": it cannot appear in searches."
        )


class GeocodedAddress(models.Model):
    """A geocoder's answer for one normalised address, kept so that the same question is never asked twice."""

    address = models.CharField(max_length=400, unique=True, help_text="Normalised: see normalize_address().")
    geocoder = models.CharField(max_length=50, help_text="The geopy service that answered, e.g. nominatim.")
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    precision = models.CharField(max_length=20, choices=CoordinatesPrecision.choices, blank=True)
    found_address = models.CharField("the geocoder's name for it", max_length=500, blank=True)
    looked_up_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "geocoded address"
        verbose_name_plural = "geocoded addresses (cache)"
        constraints = [
            models.CheckConstraint(
                condition=Q(latitude__isnull=True, longitude__isnull=True)
                | Q(latitude__gte=-90, latitude__lte=90, longitude__gte=-180, longitude__lte=180),
                name="geocoded_address_point_range",
            ),
        ]

    def __str__(self):
        return self.address

    @property
    def point(self):
        return None if self.latitude is None else (self.latitude, self.longitude)


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

    Imports use it so that a specialist written row by row is re-derived once, not on every save, and
    directory.middleware wraps every request in it: an admin save of a profile with any number of inline
    rows (practices, trainings, counts) announces that specialist once, after the admin's transaction.
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

    def speaking_spanish(self):
        """Return specialists whose recorded languages name Spanish ("English; Spanish", "Español")."""
        return self.filter(
            Q(languages__icontains="spanish") | Q(languages__icontains="español") | Q(languages__icontains="espanol")
        )

    def verification_due(self, *, today=None):
        """Return profiles never verified or verified longer ago than SIJ_VERIFICATION_MAX_MONTHS."""
        return self.filter(Q(verified_at__isnull=True) | Q(verified_at__lt=verification_cutoff(today)))

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
        indexes = [
            # Published profiles are a few percent of all rows (NPPES brings a million unpublished): this small
            # index finds them, by specialty or all, where the is_published and specialty indexes each look
            # unselective to the planner (the FHIR API's PractitionerRole searches, referral/fhir/search.py).
            models.Index(fields=["specialty"], condition=Q(is_published=True), name="published_by_specialty"),
        ]
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
        from directory.volumes import select_past_year_volume  # volumes.py reads this module's choices

        return select_past_year_volume(self.volumes.all(), procedure, today=today)

    def verification_is_due(self, *, today=None) -> bool:
        return self.verified_at is None or self.verified_at < verification_cutoff(today)

    def publication_problems(self, *, today=None) -> list[str]:
        """Return what a patient would miss if this profile were published now ([] when it may be published).

        A patient needs a place to go and a way to call (a practice with a real location and a phone number)
        and a reason to go there (an SI-joint service, or a past-year count of an SI-joint procedure).
        """
        problems = []
        if self.deactivated_on:
            problems.append(f"NPPES lists the NPI as deactivated on {self.deactivated_on:%Y-%m-%d}.")
        practices = list(self.practices.all())
        located = [p for p in practices if p.point is not None and not p.is_outside_us]
        if not practices:
            problems.append("No practice: add the practice where patients are seen.")
        elif not located:
            problems.append("No practice with a location: " + "; ".join(p.location_problem() for p in practices))
        elif not any(is_phone_number(p.phone) for p in located):
            phones = ", ".join(f"“{p.phone}”" for p in located if p.phone)
            problems.append(
                f"No phone number at a located practice ({phones} is not a phone number)."
                if phones
                else "No phone number at a located practice: add one so that patients can call."
            )
        si_counts = [self.past_year_volume(p, today=today) for p in SI_JOINT_PROCEDURES]
        if not self.services and not any(si_counts):
            problems.append("No SI-joint service ticked and no past-year SI-joint procedure count.")
        return problems

    def data_quality_hints(self, *, today=None) -> list[str]:
        """Return what a curator should fix or check on this profile, in plain words."""
        from directory.volumes import select_past_year_volume  # volumes.py reads this module's choices

        hints = []
        if not self.npi:
            hints.append("No NPI: this profile cannot be matched with CMS or NPPES data.")
        if self.deactivated_on:
            hints.append(f"NPPES lists this NPI as deactivated on {self.deactivated_on:%Y-%m-%d}.")
        if self.verified_at is None:
            hints.append("Never verified: check the profile with the practice and mark it verified.")
        elif self.verification_is_due(today=today):
            hints.append(
                f"Last verified on {timezone.localdate(self.verified_at):%Y-%m-%d}, more than "
                f"{verification_max_months()} months ago: check it again."
            )
        practices = list(self.practices.all())
        if not practices:
            hints.append("No practice: this profile cannot appear in nearby searches.")
        zips = ZipCode.objects.in_bulk({p.zip_code for p in practices if p.zip_code})
        for practice in practices:
            zip_code = zips.get(practice.zip_code)
            if problem := practice.location_problem(zip_code):
                hints.append(f"Practice “{practice.name}”: {problem}")
            elif practice.coordinates_source == CoordinatesSource.ZIP_CENTROID and zip_code and zip_code.is_estimated:
                hints.append(
                    f"Practice “{practice.name}” is at an approximate location: ZIP {zip_code.code} has no location "
                    f"of its own and is placed at the centre of {zip_code.city}, {zip_code.state}. Set the "
                    "coordinates by hand for exact distances."
                )
            if zip_code and not zip_code.is_active:
                hints.append(f"Practice “{practice.name}”: USPS no longer uses ZIP {zip_code.code}; check the address.")
            if not practice.phone:
                hints.append(f"Practice “{practice.name}” has no phone number.")
            elif not is_phone_number(practice.phone):
                hints.append(f"Practice “{practice.name}”: “{practice.phone}” is not a phone number.")
        volumes = list(self.volumes.all())
        if not volumes:
            hints.append("No procedure counts on file.")
        for procedure in Procedure:
            of_procedure = [v for v in volumes if v.procedure == procedure]
            current = select_past_year_volume(of_procedure, procedure, today=today) if of_procedure else None
            if of_procedure and current is None:
                latest = max(v.period_end for v in of_procedure)
                hints.append(
                    f"{procedure.label} count is stale: no twelve-month count ending in the last "
                    f"{settings.SIJ_VOLUME_WINDOW_MONTHS} months (latest period ended {latest:%b %Y})."
                )
            services = PROCEDURE_SERVICES.get(procedure, ())
            if current is not None and current.count and services and not any(getattr(self, s) for s in services):
                hints.append(
                    f"{procedure.label}: {current.count} in {current.period_text} ({current.get_source_display()}), "
                    f"but the “{Service(services[0]).label}” service is off: turn it on, or check the count."
                )
        return hints


class AffiliationQuerySet(models.QuerySet):
    def primary_first(self):
        """Order the primary location first, then the others in the order they were added."""
        return self.order_by("-is_primary", "id")


class Affiliation(models.Model):
    """A specialist practising at a practice."""

    specialist = models.ForeignKey(Specialist, on_delete=models.CASCADE)
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE)
    is_primary = models.BooleanField("primary location", default=False)

    objects = AffiliationQuerySet.as_manager()

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


class ProcedureVolumeQuerySet(models.QuerySet):
    def past_year(self, *, today=None):
        """Return the counts eligible to stand for a past year: select_past_year_volume's rule, in SQL."""
        from directory.volumes import YEAR_PERIOD_DAYS, past_year_window  # volumes.py reads this module's choices

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
    verified_at = models.DateTimeField("count verified at", null=True, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="count verified by",
    )
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

    @property
    def period_text(self) -> str:
        return f"{self.period_start:%b %Y}–{self.period_end:%b %Y}"

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


class VerificationQueueEntry(Specialist):
    """A profile whose verification is due (never verified, or longer ago than SIJ_VERIFICATION_MAX_MONTHS)."""

    class Meta:
        proxy = True
        verbose_name = "verification queue entry"
        verbose_name_plural = "Verification queue"


class ImportLock(models.Model):
    """An import of one source (CMS, NPPES) that is running: a second one of the same source is refused.

    On PostgreSQL an advisory lock decides (it ends with the session, even after kill -9) and this row only says
    since when; on SQLite this row is the lock, taken over when its process is gone.
    """

    source = models.CharField(max_length=40, primary_key=True)
    started_at = models.DateTimeField()
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()

    def __str__(self):
        return f"import of {self.source} since {self.started_at:%Y-%m-%d %H:%M:%S %Z}"


# --- Problem reports from the public profile ---------------------------------------------------------


class ReportProblem(models.TextChoices):
    WRONG_PHONE = "wrong_phone", _("The phone number is wrong")
    MOVED = "moved", _("The practice has moved or the address is wrong")
    RETIRED = "retired", _("The specialist has retired or no longer practises here")
    OTHER = "other", _("Something else on this profile is wrong")


class ReportStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


class ProfileReportQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status=ReportStatus.OPEN)


class ProfileReport(models.Model):
    """A visitor's note that something on a public profile is wrong: a task for the curators.

    Holds no personal data: no account, no contact details, no client address.
    """

    DETAILS_MAX_LENGTH = 500

    specialist = models.ForeignKey(Specialist, on_delete=models.CASCADE, related_name="reports")
    practice = models.ForeignKey(
        Practice, null=True, blank=True, on_delete=models.SET_NULL, related_name="reports", help_text="If named."
    )
    problem = models.CharField("what is wrong", max_length=20, choices=ReportProblem.choices)
    details = models.TextField(blank=True, max_length=DETAILS_MAX_LENGTH)
    created_at = models.DateTimeField("reported at", default=timezone.now, db_index=True)
    status = models.CharField(max_length=10, choices=ReportStatus.choices, default=ReportStatus.OPEN, db_index=True)
    resolution_note = models.TextField(blank=True, help_text="What was checked and changed; kept in the history.")
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    objects = ProfileReportQuerySet.as_manager()

    class Meta:
        verbose_name = "problem report"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="open", resolved_at__isnull=True) | Q(status="resolved", resolved_at__isnull=False),
                name="profile_report_resolved_has_time",
            ),
        ]

    def __str__(self):
        return f"Report #{self.pk}: {self.get_problem_display()} ({self.specialist})"

    def resolve(self, *, by, note: str) -> None:
        """Mark the report resolved and record the resolution in the specialist's history, naming the report."""
        self.status, self.resolution_note = ReportStatus.RESOLVED, note
        self.resolved_by, self.resolved_at = by, timezone.now()
        self.save()
        specialist = self.specialist
        reason = f"Problem report #{self.pk} resolved ({self.get_problem_display().lower()}): {note}"
        specialist._change_reason = reason if len(reason) <= 100 else reason[:99] + "…"  # the history's limit
        specialist._history_user = by
        specialist.save()
