"""Curation: the Django admin as the curators' tool for specialist profiles."""

import io

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db import models
from django.db.models import Case, F, OuterRef, Prefetch, Subquery, Value, When
from django.db.models.functions import Coalesce, Lower
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from simple_history.admin import SimpleHistoryAdmin
from simple_history.models import DeletedObject
from simple_history.template_utils import HistoricalRecordContextHelper
from simple_history.utils import bulk_update_with_history

from directory.forms import (
    PracticeAdminForm,
    ProfileReportAdminForm,
    ProfilesConfirmForm,
    ProfilesUploadForm,
    SpecialistAdminForm,
    ZipCodeAdminForm,
)
from directory.geocoding import GeocodingOff, build_geocode, geocode_practices
from directory.importers.profiles import ProfileFileError, import_profiles, profiles_for_export, write_profiles_csv
from directory.models import (
    SI_JOINT_PROCEDURES,
    Affiliation,
    Insurance,
    Practice,
    Procedure,
    ProcedureVolume,
    ProfileReport,
    RecordSource,
    ReportStatus,
    ReviewStatus,
    ReviewStub,
    Service,
    Specialist,
    Specialty,
    Training,
    VerificationQueueEntry,
    ZipCode,
    specialists_touched,
    verification_max_months,
)
from directory.volumes import SOURCE_PREFERENCE, count_text

# Fields a curator's hand edit protects from being overwritten by the CMS / NPPES importers.
CURATED_IDENTITY_FIELDS = ("npi", "first_name", "middle_name", "last_name", "credentials", "specialty", "gender")
CURATED_PRACTICE_FIELDS = ("name", "address_line1", "address_line2", "city", "state", "zip_code", "phone")

# Short column labels for the past-year counts in the changelist.
PROCEDURE_ABBREVIATIONS = {
    Procedure.MIS_SI_FUSION: "MIS fusion",
    Procedure.OPEN_SI_FUSION: "open fusion",
    Procedure.SI_INJECTION: "injection",
    Procedure.RF_ABLATION: "RF",
    Procedure.LUMBAR_FUSION: "lumbar fusion",
}
SPECIALTY_ABBREVIATIONS = {
    Specialty.ORTHOPAEDIC_SPINE: "Orthopaedic spine",
    Specialty.PMR: "PM&R",
    Specialty.INTERVENTIONAL_RADIOLOGY: "Interv. radiology",
}


# simple-history keeps a change reason of up to 100 characters.
REASON_MAX_LENGTH = 100


def update_specialists(request, specialists, fields, *, reason):
    """Save these fields of many specialists at once, with history and a reason, and announce the change."""
    bulk_update_with_history(
        specialists,
        Specialist,
        fields,
        batch_size=500,
        default_user=request.user,
        default_change_reason=reason[:REASON_MAX_LENGTH],
    )
    specialists_touched(specialist.pk for specialist in specialists)


def publish_checked(modeladmin, request, specialists, *, reason, also=None):
    """Publish the specialists a patient could use; say, per specialist, what keeps the others unpublished.

    `also` sets more fields on the published ones (the review queue marks them curated). Returns the published.
    """
    ready, refused = [], []
    for specialist in specialists:
        problems = specialist.publication_problems()
        (refused if problems else ready).append((specialist, problems))
    published = [specialist for specialist, _ in ready]
    for specialist in published:
        specialist.is_published = True
        for field, value in (also or {}).items():
            setattr(specialist, field, value)
    update_specialists(request, published, ["is_published", *(also or {})], reason=reason)
    for specialist, problems in refused[:MAX_REFUSAL_MESSAGES]:
        modeladmin.message_user(
            request,
            format_html("Not published: {} — {}", specialist.display_name, " ".join(problems)),
            messages.ERROR,
        )
    if len(refused) > MAX_REFUSAL_MESSAGES:
        more = len(refused) - MAX_REFUSAL_MESSAGES
        modeladmin.message_user(request, f"… and {plural(more, 'more specialist')} not published.", messages.ERROR)
    return published


MAX_REFUSAL_MESSAGES = 20


def stamp_count_verification(volume, user, now=None):
    """Record who verified a count and when (the moment it became verified); clear both when it is not."""
    if volume.verified and volume.verified_at is None:
        volume.verified_at, volume.verified_by = now or timezone.now(), user
    elif not volume.verified:
        volume.verified_at = volume.verified_by = None


class CuratorHistoryHelper(HistoricalRecordContextHelper):
    """Changes worded for curators: choice labels, yes/no, and an empty link as empty (not "Deleted user")."""

    def prepare_delta_change_value(self, change, value):
        value = super().prepare_delta_change_value(change, value)
        field = self.model._meta.get_field(change.field)
        if isinstance(value, DeletedObject) and value.pk is None:
            return ""
        if isinstance(value, bool):
            return "yes" if value else "no"
        if field.choices and not isinstance(value, list):
            return dict(field.flatchoices).get(value, value)
        return "" if value is None else value


def history_entries(request, model_admin, records, label):
    """Return history records (oldest first in `records`) as rows of who, when, why and field-by-field changes."""
    entries, previous = [], {}
    for record in records:
        before = previous.get(record.id)
        changes = []
        if before is not None:
            delta = record.diff_against(before, foreign_keys_are_objs=True)
            changes = CuratorHistoryHelper(model_admin.model, record).context_for_delta_changes(delta)
        previous[record.id] = record
        entries.append({"record": record, "label": label, "object": str(record.instance), "changes": changes})
    return entries


def related_history(request, model_admin, specialist):
    """Return the change history of the specialist's counts and trainings, newest first."""
    entries = []
    for model, label in ((ProcedureVolume, "Count"), (Training, "Training")):
        records = model.history.filter(specialist_id=specialist.pk).select_related("history_user")
        entries += history_entries(request, admin.site._registry[model], records.order_by("history_date"), label)
    return sorted(entries, key=lambda entry: entry["record"].history_date, reverse=True)


def record_curator_edits(specialist, field_names):
    """Add `field_names` to the specialist's curator_edited_fields (saved by the caller)."""
    edited = set(specialist.curator_edited_fields) | set(field_names)
    specialist.curator_edited_fields = sorted(edited)


# --- Specialist list filters -------------------------------------------------------------------------


class PracticeStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        states = Practice.objects.exclude(state="").order_by("state").values_list("state", flat=True).distinct()
        return [(state, state) for state in states]

    def queryset(self, request, queryset):
        return queryset.filter(practices__state=self.value()).distinct() if self.value() else queryset


class ServiceFilter(admin.SimpleListFilter):
    title = "SI-joint service offered"
    parameter_name = "service"

    def lookups(self, request, model_admin):
        return Service.choices

    def queryset(self, request, queryset):
        return queryset.offering(self.value()) if self.value() in Service.values else queryset


class VerifiedFilter(admin.SimpleListFilter):
    title = "verified"
    parameter_name = "verified"

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(verified_at__isnull=self.value() == "no")
        return queryset


class VerificationDueFilter(admin.SimpleListFilter):
    title = "verification due"
    parameter_name = "verification"

    def lookups(self, request, model_admin):
        months = verification_max_months()
        return [("due", f"Due: never verified or over {months} months ago"), ("current", f"Within {months} months")]

    def queryset(self, request, queryset):
        if self.value() == "due":
            return queryset.verification_due()
        if self.value() == "current":
            return queryset.exclude(pk__in=queryset.verification_due().values("pk"))
        return queryset


class PastYearVolumeFilter(admin.SimpleListFilter):
    title = "past-year procedure counts"
    parameter_name = "past_year_counts"

    def lookups(self, request, model_admin):
        return [("none", "No count in the past year"), ("some", "At least one count")]

    def queryset(self, request, queryset):
        if self.value() == "none":
            return queryset.without_past_year_volume()
        if self.value() == "some":
            return queryset.with_past_year_volume()
        return queryset


# --- Specialist --------------------------------------------------------------------------------------


class AffiliationInline(admin.TabularInline):
    model = Affiliation
    extra = 0
    autocomplete_fields = ["practice"]
    fields = ["practice", "address", "is_primary"]
    readonly_fields = ["address"]
    verbose_name = "practice"
    verbose_name_plural = "practices"

    @admin.display(description="address")
    def address(self, affiliation):
        practice = affiliation.practice if affiliation.practice_id else None
        if practice is None:
            return "—"
        problem = practice.location_problem()
        return f"{practice.address} ({problem})" if problem else practice.address


class TrainingInline(admin.TabularInline):
    model = Training
    extra = 0
    fields = ["course", "provider", "device_system", "year"]


class ProcedureVolumeInline(admin.TabularInline):
    model = ProcedureVolume
    extra = 0
    fields = [
        "procedure",
        "period_start",
        "period_end",
        "count",
        "is_suppressed",
        "source",
        "verified",
        "verified_at",
        "verified_by",
    ]
    readonly_fields = ["verified_at", "verified_by"]


@admin.register(Specialist)
class SpecialistAdmin(SimpleHistoryAdmin):
    form = SpecialistAdminForm
    object_history_template = "admin/directory/specialist/object_history.html"
    object_history_list_template = "admin/directory/specialist/object_history_list.html"
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}  # "example.org" → https://example.org
    list_display = [
        "name",
        "npi",
        "specialty_short",
        "location",
        "is_published",
        "verified_on",
        "past_year_counts",
    ]
    list_display_links = ["name"]
    list_filter = [
        "specialty",
        PracticeStateFilter,
        ServiceFilter,
        "is_published",
        VerifiedFilter,
        VerificationDueFilter,
        PastYearVolumeFilter,
        "review_status",
        "record_source",
    ]
    search_fields = ["first_name", "last_name", "=npi", "practices__city", "=practices__zip_code"]
    search_help_text = "Search by name, NPI (all 10 digits), practice city or practice ZIP."
    list_per_page = 50
    actions = ["publish", "unpublish", "mark_verified", "export_profiles_csv"]
    inlines = [AffiliationInline, TrainingInline, ProcedureVolumeInline]
    readonly_fields = [
        "verified_at",
        "verified_by",
        "record_source",
        "curator_edited_fields",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    ("first_name", "middle_name", "last_name"),
                    ("credentials", "specialty"),
                    "npi",
                    ("languages", "gender"),
                    ("accepting_new_patients", "telehealth"),
                    "website",
                    "bio",
                ]
            },
        ),
        (
            "SI-joint services",
            {
                "classes": ["sij-services"],
                "fields": [service.value for service in Service],
                "description": "What this specialist offers for the sacroiliac joint.",
            },
        ),
        (
            "Publishing and verification",
            {
                "fields": [
                    ("is_published", "unpublished_reason"),
                    ("verified_at", "verified_by"),
                    "verification_notes",
                    "change_reason",
                ]
            },
        ),
        (
            "Provenance",
            {
                "classes": ["collapse"],
                "fields": [
                    ("record_source", "review_status"),
                    "deactivated_on",
                    "curator_edited_fields",
                    ("created_at", "updated_at"),
                ],
            },
        ),
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related(
                Prefetch(
                    "affiliation_set",
                    queryset=Affiliation.objects.select_related("practice").primary_first(),
                ),
                "volumes",
            )
        )

    @admin.display(description="name", ordering="last_name")
    def name(self, specialist):
        return specialist.display_name

    @admin.display(description="specialty", ordering="specialty")
    def specialty_short(self, specialist):
        return SPECIALTY_ABBREVIATIONS.get(specialist.specialty, specialist.get_specialty_display())

    @admin.display(description="location")
    def location(self, specialist):
        affiliations = specialist.affiliation_set.all()
        if not affiliations:
            return "—"
        practice = affiliations[0].practice
        place = ", ".join(part for part in (practice.city, practice.state) if part) or practice.name
        more = len(affiliations) - 1
        return f"{place} (+{more})" if more else place

    @admin.display(description="verified", ordering="verified_at")
    def verified_on(self, specialist):
        return timezone.localdate(specialist.verified_at).isoformat() if specialist.verified_at else "—"

    @admin.display(description="past-year counts (period, source)")
    def past_year_counts(self, specialist):
        today = timezone.localdate()
        parts = []
        for procedure in Procedure:
            volume = specialist.past_year_volume(procedure, today=today)
            if volume is not None:
                context = "" if procedure in SI_JOINT_PROCEDURES else ", context only: not ranked"
                parts.append(
                    (
                        PROCEDURE_ABBREVIATIONS[procedure],
                        count_text(volume),
                        f"{volume.period_text}, {volume.get_source_display()}{context}",
                    )
                )
        if not parts:
            return format_html('<span class="sij-none">{}</span>', "none")
        return format_html_join(
            mark_safe("<br>"), '<span class="sij-count">{}&nbsp;{}</span> <span class="quiet">({})</span>', parts
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        specialist = self.get_object(request, object_id)
        hints = specialist.data_quality_hints() if specialist is not None else []
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), "data_quality_hints": hints})

    def get_historical_record_context_helper(self, request, historical_record):
        return CuratorHistoryHelper(self.model, historical_record)

    def history_view(self, request, object_id, extra_context=None):
        specialist = self.get_object(request, object_id)
        related = related_history(request, self, specialist) if specialist is not None else []
        return super().history_view(request, object_id, {**(extra_context or {}), "related_history": related})

    def save_model(self, request, obj, form, change):
        if change:
            record_curator_edits(obj, [name for name in form.changed_data if name in CURATED_IDENTITY_FIELDS])
        # Publishing waits for the practices and counts of the inlines: save_related() checks and publishes.
        request.sij_publish = obj.is_published and (not change or "is_published" in form.changed_data)
        if request.sij_publish:
            obj.is_published = False
        version = self.reverting_to(request)
        typed = form.cleaned_data.get("change_reason")
        if version is not None:
            obj._change_reason = typed or f"Reverted to the version of {timezone.localtime(version):%Y-%m-%d %H:%M}"
        else:
            obj._change_reason = form.reason_for(change)
        super().save_model(request, obj, form, change)
        if version is not None:  # a revert saves no inlines, so save_related() does not run
            self.publish_if_requested(request, obj)

    def reverting_to(self, request):
        """Return the date of the version this request reverts to (simple-history's revert page), or None."""
        match = request.resolver_match
        if match is None or match.url_name != "directory_specialist_simple_history":
            return None
        record = Specialist.history.filter(history_id=match.args[1]).first()
        return record.history_date if record else None

    def publish_if_requested(self, request, obj):
        if getattr(request, "sij_publish", False):
            specialist = Specialist.objects.prefetch_related("practices", "volumes").get(pk=obj.pk)
            obj.is_published = bool(
                publish_checked(self, request, [specialist], reason="Published from the change page")
            )

    def save_formset(self, request, form, formset, change):
        reason = form.reason_for(change)
        for instance in formset.save(commit=False):
            instance._change_reason = reason
            if isinstance(instance, ProcedureVolume):
                stamp_count_verification(instance, request.user)
            instance.save()
        for instance in formset.deleted_objects:
            instance._change_reason = reason
            instance.delete()
        formset.save_m2m()
        if change and formset.model is Affiliation and formset.has_changed():
            record_curator_edits(form.instance, ["practices"])
            form.instance.save(update_fields=["curator_edited_fields"])

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        self.publish_if_requested(request, form.instance)

    @admin.action(description="Publish selected specialists", permissions=["change"])
    def publish(self, request, queryset):
        candidates = list(queryset.filter(is_published=False).prefetch_related("practices", "volumes"))
        published = publish_checked(self, request, candidates, reason="Published with the admin's Publish action")
        already = queryset.count() - len(candidates)
        note = f" ({already} already published)" if already else ""
        if published or already:
            self.message_user(request, f"Published {plural(len(published), 'specialist')}{note}.", messages.SUCCESS)

    @admin.action(description="Unpublish selected specialists", permissions=["change"])
    def unpublish(self, request, queryset):
        to_change = list(queryset.filter(is_published=True))
        for specialist in to_change:
            specialist.is_published = False
        update_specialists(request, to_change, ["is_published"], reason="Unpublished with the admin's Unpublish action")
        already = queryset.count() - len(to_change)
        note = f" ({already} already unpublished)" if already else ""
        self.message_user(request, f"Unpublished {plural(len(to_change), 'specialist')}{note}.", messages.SUCCESS)

    @admin.action(description="Mark selected specialists as verified (by you, now)", permissions=["change"])
    def mark_verified(self, request, queryset):
        specialists = list(queryset)
        now = timezone.now()
        for specialist in specialists:
            specialist.verified_at, specialist.verified_by = now, request.user
        reason = f"Verified by {request.user.get_username()} with the admin's Mark verified action"
        update_specialists(request, specialists, ["verified_at", "verified_by"], reason=reason)
        self.message_user(
            request, f"Marked {plural(len(specialists), 'specialist')} as verified by you.", messages.SUCCESS
        )

    @admin.action(description="Export selected specialists as profiles CSV", permissions=["view"])
    def export_profiles_csv(self, request, queryset):
        return profiles_csv_response(queryset)

    def get_urls(self):
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name="directory_specialist_import"),
            path("export/", self.admin_site.admin_view(self.export_view), name="directory_specialist_export"),
            *super().get_urls(),
        ]

    def export_view(self, request):
        """Download the specialists the changelist shows (same filters and search) as a profiles CSV."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        return profiles_csv_response(self.get_changelist_instance(request).get_queryset(request))

    def import_view(self, request):
        """Upload a profiles CSV, preview what it would do, then confirm to import it."""
        if not (self.has_add_permission(request) and self.has_change_permission(request)):
            raise PermissionDenied
        upload_form, confirm_form, preview, result = ProfilesUploadForm(), None, None, None
        if request.method == "POST" and "confirm" in request.POST:
            confirm_form = ProfilesConfirmForm(request.POST, user=request.user)
            if confirm_form.is_valid():
                upload = confirm_form.cleaned_data["upload"]
                result = import_profiles(io.StringIO(upload["text"]), atomic=upload["atomic"], user=request.user)
                level = messages.SUCCESS if result.written and not result.rejected else messages.WARNING
                written = "Imported" if result.written else "Nothing imported (all or nothing, rejected rows)"
                self.message_user(request, f"{written}: {result.summary()}.", level)
        elif request.method == "POST":
            upload_form = ProfilesUploadForm(request.POST, request.FILES)
            if upload_form.is_valid():
                text, atomic = upload_form.cleaned_data["file"], upload_form.cleaned_data["atomic"]
                try:
                    preview = import_profiles(io.StringIO(text), dry_run=True, atomic=atomic, user=request.user)
                except ProfileFileError as error:
                    upload_form.add_error("file", str(error))
                else:
                    signed = ProfilesConfirmForm.sign(text=text, atomic=atomic, user=request.user)
                    if settings.DATA_UPLOAD_MAX_MEMORY_SIZE and len(signed) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
                        upload_form.add_error("file", "This file is too large to preview here; use the command.")
                        preview = None
                    else:
                        confirm_form = ProfilesConfirmForm(initial={"upload": signed}, user=request.user)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Import profiles CSV",
            "upload_form": upload_form,
            "confirm_form": confirm_form,
            "preview": preview,
            "result": result,
            "report": preview or result,
        }
        return TemplateResponse(request, "admin/directory/specialist/import_profiles.html", context)


def profiles_csv_response(queryset):
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="sij-profiles-{timezone.localdate():%Y-%m-%d}.csv"'
    response.write("\ufeff")  # a byte-order mark, so that spreadsheet programs read the file as UTF-8
    write_profiles_csv(profiles_for_export(queryset.order_by("last_name", "first_name", "id")), response)
    return response


def plural(count, noun):
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


# --- Practices, ZIP codes, trainings, volumes --------------------------------------------------------


class PracticeSpecialistInline(admin.TabularInline):
    model = Affiliation
    extra = 0
    autocomplete_fields = ["specialist"]
    verbose_name = "specialist"
    verbose_name_plural = "specialists at this practice"


class HasCoordinatesFilter(admin.SimpleListFilter):
    title = "coordinates"
    parameter_name = "coordinates"

    def lookups(self, request, model_admin):
        return [("missing", "Missing")]

    def queryset(self, request, queryset):
        return queryset.without_coordinates() if self.value() == "missing" else queryset


class InsuranceKnownFilter(admin.SimpleListFilter):
    title = "insurance on file"
    parameter_name = "insurance_known"

    def lookups(self, request, model_admin):
        return [("yes", "Confirmed"), ("no", "Not known")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(insurance_confirmed_on__isnull=self.value() == "no")
        return queryset


@admin.register(Practice)
class PracticeAdmin(SimpleHistoryAdmin):
    form = PracticeAdminForm
    list_display = ["name", "address_line1", "city", "state", "zip_code", "phone", "coordinates_source"]
    list_filter = ["state", "coordinates_source", HasCoordinatesFilter, InsuranceKnownFilter, "insurance"]
    search_fields = ["name", "address_line1", "city", "=zip_code", "phone"]
    search_help_text = "Search by name, street address, city, ZIP or phone."
    inlines = [PracticeSpecialistInline]
    formfield_overrides = {models.ManyToManyField: {"widget": forms.CheckboxSelectMultiple}}
    fieldsets = [
        (None, {"fields": ["name", "address_line1", "address_line2", ("city", "state", "zip_code"), "phone"]}),
        (
            "Insurance",
            {
                "fields": ["insurance", "insurance_confirmed_on"],
                "description": "Tick what the office says it accepts and the date it said so. Patients see the "
                "list with that date and are told to confirm with the office; without a date they see that "
                "it is not on file.",
            },
        ),
        (
            "Location on the map",
            {
                "fields": [
                    ("latitude", "longitude"),
                    ("coordinates_source", "coordinates_precision"),
                    "location_status",
                ],
                "description": "Leave latitude and longitude empty to place the practice at its ZIP centroid; "
                "type them to set the location by hand.",
            },
        ),
    ]
    readonly_fields = ["coordinates_source", "coordinates_precision", "location_status"]

    @admin.display(description="in the search")
    def location_status(self, practice):
        if practice.pk is None:
            return "—"
        if problem := practice.location_problem():
            return problem
        zip_code = ZipCode.objects.filter(code=practice.zip_code).first()
        if practice.coordinates_source == "zip_centroid" and zip_code and zip_code.is_estimated:
            return f"Yes, at an approximate location (ZIP {zip_code.code} is placed at the centre of its city)."
        return "Yes"

    def save_model(self, request, obj, form, change):
        obj._change_reason = "Edited in the admin"
        super().save_model(request, obj, form, change)
        location_edits = [name for name in form.changed_data if name in CURATED_PRACTICE_FIELDS]
        if change and location_edits:
            # Importers must not move these specialists back to the address the source knows.
            for specialist in obj.specialists.all():
                record_curator_edits(specialist, location_edits)
                specialist.save(update_fields=["curator_edited_fields"])


@admin.register(Insurance)
class InsuranceAdmin(SimpleHistoryAdmin):
    list_display = ["name", "code", "kind", "position"]
    list_editable = ["position"]
    list_filter = ["kind"]
    search_fields = ["name", "code"]

    def has_delete_permission(self, request, obj=None):
        # Deleting an entry drops it from every practice's confirmed list without a trace there.
        return request.user.is_superuser


@admin.register(ZipCode)
class ZipCodeAdmin(SimpleHistoryAdmin):
    form = ZipCodeAdminForm
    list_display = [
        "code",
        "city",
        "state",
        "kind",
        "is_active",
        "latitude",
        "longitude",
        "is_estimated",
        "is_corrected",
    ]
    list_filter = ["kind", "is_estimated", "is_active", "is_corrected", "state"]
    search_fields = ["=code", "city"]
    search_help_text = "Search by ZIP or city."
    fields = [
        "code",
        ("city", "state"),
        ("kind", "is_active"),
        ("latitude", "longitude"),
        "is_estimated",
        "is_corrected",
        "location_problem",
    ]
    readonly_fields = ["kind", "is_active", "is_estimated", "is_corrected", "location_problem"]

    @admin.display(description="can be used")
    def location_problem(self, zip_code):
        return zip_code.location_problem or "Yes"

    def save_model(self, request, obj, form, change):
        obj._change_reason = "Centroid set by hand in the admin"
        super().save_model(request, obj, form, change)


@admin.register(Training)
class TrainingAdmin(SimpleHistoryAdmin):
    list_display = ["course", "specialist", "provider", "device_system", "year"]
    list_filter = ["year", "device_system"]
    search_fields = ["course", "provider", "device_system", "specialist__last_name", "=specialist__npi"]
    autocomplete_fields = ["specialist"]
    list_select_related = ["specialist"]


@admin.register(ProcedureVolume)
class ProcedureVolumeAdmin(SimpleHistoryAdmin):
    list_display = ["specialist", "procedure", "period", "count_shown", "source", "in_ranking", "verification"]
    list_filter = ["procedure", "source", "verified", "is_suppressed"]
    search_fields = ["specialist__last_name", "specialist__first_name", "=specialist__npi"]
    date_hierarchy = "period_end"
    autocomplete_fields = ["specialist"]
    list_select_related = ["specialist", "verified_by"]
    readonly_fields = ["verified_at", "verified_by"]
    actions = ["mark_counts_verified"]

    @admin.display(description="period", ordering="period_end")
    def period(self, volume):
        return volume.period_text

    @admin.display(description="count", ordering="count")
    def count_shown(self, volume):
        return count_text(volume)

    @admin.display(description="in the ranking")
    def in_ranking(self, volume):
        if volume.procedure not in SI_JOINT_PROCEDURES:
            return "context only: not ranked"
        past_year = volume.specialist.past_year_volume(volume.procedure)
        return "counted (stands for the past year)" if past_year and past_year.pk == volume.pk else "not counted"

    @admin.display(description="verified", ordering="verified_at")
    def verification(self, volume):
        if not volume.verified:
            return "no"
        if volume.verified_at is None:
            return "yes (who and when not recorded)"
        return f"by {volume.verified_by or 'a deleted user'} on {timezone.localdate(volume.verified_at):%Y-%m-%d}"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("specialist__volumes")

    def save_model(self, request, obj, form, change):
        stamp_count_verification(obj, request.user)
        obj._change_reason = "Edited in the admin"
        super().save_model(request, obj, form, change)

    @admin.action(description="Mark selected counts verified (by you, now)", permissions=["change"])
    def mark_counts_verified(self, request, queryset):
        volumes, now = list(queryset.filter(verified=False)), timezone.now()
        for volume in volumes:
            volume.verified = True
            stamp_count_verification(volume, request.user, now)
        bulk_update_with_history(
            volumes,
            ProcedureVolume,
            ["verified", "verified_at", "verified_by"],
            batch_size=500,
            default_user=request.user,
            default_change_reason=f"Counts verified by {request.user.get_username()}"[:REASON_MAX_LENGTH],
        )
        specialists_touched({volume.specialist_id for volume in volumes})
        already = queryset.count() - len(volumes)
        note = f" ({already} already verified)" if already else ""
        self.message_user(request, f"Marked {plural(len(volumes), 'count')} verified by you{note}.", messages.SUCCESS)


# --- Import review queue: specialists the CMS / NPPES imports found ----------------------------------


def past_year_count(procedure):
    """Return a subquery of the count select_past_year_volume() would pick for `procedure` (NULL when none)."""
    source_rank = Case(*[When(source=source, then=Value(rank)) for rank, source in enumerate(SOURCE_PREFERENCE)])
    return Subquery(
        ProcedureVolume.objects.past_year()
        .filter(specialist=OuterRef("pk"), procedure=procedure)
        .order_by("-period_end", "-verified", source_rank)
        .values("count")[:1]
    )


class FoundByFilter(admin.SimpleListFilter):
    title = "found by"
    parameter_name = "found_by"

    def lookups(self, request, model_admin):
        return [(RecordSource.CMS_MEDICARE, "CMS Medicare"), (RecordSource.NPPES, "NPPES")]

    def queryset(self, request, queryset):
        return queryset.filter(source_records__source=self.value()) if self.value() else queryset


@admin.register(ReviewStub)
class ReviewQueueAdmin(admin.ModelAdmin):
    """Pending stubs with what each source said; curators publish them after review or dismiss them."""

    list_display = ["name", "location", "past_year_si_fusion", "cms_said", "nppes_said"]
    list_display_links = None
    list_filter = [FoundByFilter, PracticeStateFilter, "specialty"]
    search_fields = ["first_name", "last_name", "=npi"]
    search_help_text = "Search by name or NPI (all 10 digits)."
    list_per_page = 50
    actions = ["publish_after_review", "dismiss"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .awaiting_review()
            .annotate(
                mis_si_fusion=past_year_count(Procedure.MIS_SI_FUSION),
                open_si_fusion=past_year_count(Procedure.OPEN_SI_FUSION),
                # No count at all stays empty ("not in the data"), never 0.
                past_year_si_fusion=Case(
                    When(mis_si_fusion__isnull=True, open_si_fusion__isnull=True, then=None),
                    default=Coalesce("mis_si_fusion", 0) + Coalesce("open_si_fusion", 0),
                    output_field=models.IntegerField(),
                ),
            )
            .prefetch_related(
                "source_records",
                Prefetch(
                    "affiliation_set",
                    queryset=Affiliation.objects.select_related("practice").primary_first(),
                ),
            )
        )

    def get_ordering(self, request):
        # Lower(): a tie-break that does not mark the name column as the sorted one.
        return [F("past_year_si_fusion").desc(nulls_last=True), Lower("last_name"), Lower("first_name"), "id"]

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # dismiss instead: a deleted stub would come back with the next import
        return actions

    def has_add_permission(self, request):
        return False  # entries come from the imports

    def changelist_view(self, request, extra_context=None):
        title = "Import review queue: specialists the CMS and NPPES imports found"
        return super().changelist_view(request, {"title": title, **(extra_context or {})})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return redirect("admin:directory_specialist_change", object_id)

    @admin.display(description="name, NPI, specialty", ordering="last_name")
    def name(self, stub):
        url = reverse("admin:directory_specialist_change", args=[stub.pk])
        return format_html(
            '<a href="{}">{}</a><br><span class="quiet">NPI {} · {}</span>',
            url,
            stub.display_name,
            stub.npi,
            stub.get_specialty_display(),
        )

    @admin.display(description="location")
    def location(self, stub):
        affiliations = stub.affiliation_set.all()
        if not affiliations:
            return "—"
        practice = affiliations[0].practice
        return ", ".join(part for part in (practice.city, practice.state) if part) or "—"

    @admin.display(
        description="SI-joint fusions, past year",
        ordering=F("past_year_si_fusion").asc(nulls_first=True),
    )
    def past_year_si_fusion(self, stub):
        return "—" if stub.past_year_si_fusion is None else stub.past_year_si_fusion

    @admin.display(description="CMS Medicare (services by year)")
    def cms_said(self, stub):
        record = next((r for r in stub.source_records.all() if r.source == RecordSource.CMS_MEDICARE), None)
        years = record.data.get("years", {}) if record else {}
        lines = []
        for year, said in sorted(years.items(), reverse=True):
            procedures = said.get("procedures", {})
            counts = " · ".join(
                f"{PROCEDURE_ABBREVIATIONS[procedure]} {procedures[procedure]['services']}"
                for procedure in Procedure
                if procedure in procedures
            )
            lines.append((year, counts or "no SI-joint or lumbar-fusion rows"))
        if not lines:
            return format_html('<span class="sij-none">{}</span>', "not in Medicare data")
        return format_html_join(mark_safe("<br>"), "<strong>{}</strong>: {}", lines)

    @admin.display(description="NPPES (taxonomy, practice address)")
    def nppes_said(self, stub):
        record = next((r for r in stub.source_records.all() if r.source == RecordSource.NPPES), None)
        if record is None:
            return format_html('<span class="sij-none">{}</span>', "not imported from NPPES")
        taxonomies = [
            t["label"] + (" (primary)" if t["primary"] else "") for t in record.data["taxonomies"] if t["label"]
        ]
        return format_html("{}<br>{}", "; ".join(taxonomies) or "—", record.data.get("address") or "no address")

    @admin.action(description="Publish after review", permissions=["change"])
    def publish_after_review(self, request, queryset):
        stubs = Specialist.objects.filter(pk__in=queryset.values("pk")).prefetch_related("practices", "volumes")
        published = publish_checked(
            self,
            request,
            list(stubs),
            reason="Published from the import review queue",
            also={"review_status": ReviewStatus.CURATED},
        )
        if published:
            self.message_user(request, f"Published {plural(len(published), 'specialist')}.", messages.SUCCESS)

    @admin.action(description="Dismiss (keep out of the directory, also on later imports)", permissions=["change"])
    def dismiss(self, request, queryset):
        dismissed = list(Specialist.objects.filter(pk__in=queryset.values("pk")))
        for specialist in dismissed:
            specialist.review_status, specialist.is_published = ReviewStatus.DISMISSED, False
        update_specialists(
            request, dismissed, ["review_status", "is_published"], reason="Dismissed from the import review queue"
        )
        self.message_user(request, f"Dismissed {plural(len(dismissed), 'specialist')}.", messages.SUCCESS)


# --- Verification queue: profiles never verified or verified too long ago ----------------------------


@admin.register(VerificationQueueEntry)
class VerificationQueueAdmin(admin.ModelAdmin):
    """Published profiles first, never verified first, then the oldest verification."""

    list_display = ["name", "is_published", "last_verified", "location"]
    list_display_links = None
    list_filter = ["is_published", PracticeStateFilter, "specialty"]
    search_fields = ["first_name", "last_name", "=npi"]
    list_per_page = 50
    actions = ["mark_verified"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .verification_due()
            .select_related("verified_by")
            .prefetch_related(
                Prefetch(
                    "affiliation_set",
                    queryset=Affiliation.objects.select_related("practice").primary_first(),
                )
            )
        )

    def get_ordering(self, request):
        return ["-is_published", F("verified_at").asc(nulls_first=True), Lower("last_name"), "id"]

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_add_permission(self, request):
        return False

    def changelist_view(self, request, extra_context=None):
        title = f"Verification queue: never verified or verified more than {verification_max_months()} months ago"
        return super().changelist_view(request, {"title": title, **(extra_context or {})})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return redirect("admin:directory_specialist_change", object_id)

    @admin.display(description="name", ordering="last_name")
    def name(self, specialist):
        url = reverse("admin:directory_specialist_change", args=[specialist.pk])
        return format_html('<a href="{}">{}</a>', url, specialist.display_name)

    @admin.display(description="last verified", ordering="verified_at")
    def last_verified(self, specialist):
        if specialist.verified_at is None:
            return format_html('<span class="sij-none">{}</span>', "never")
        return f"{timezone.localdate(specialist.verified_at):%Y-%m-%d} by {specialist.verified_by or 'a deleted user'}"

    @admin.display(description="location")
    def location(self, specialist):
        return SpecialistAdmin.location(self, specialist)

    @admin.action(description="Mark selected specialists as verified (by you, now)", permissions=["change"])
    def mark_verified(self, request, queryset):
        SpecialistAdmin.mark_verified(self, request, Specialist.objects.filter(pk__in=queryset.values("pk")))


# --- Geocoding practices (directory/geocoding.py) ----------------------------------------------------

GEOCODE_ACTION_LIMIT = 50  # at Nominatim's one request a second, a minute's wait at most; more: the command


@admin.action(description="Geocode the street addresses (keeps hand-set coordinates)", permissions=["change"])
def geocode_practice_addresses(modeladmin, request, queryset):
    try:
        geocode = build_geocode()
    except GeocodingOff:
        message = "Geocoding is off (SIJ_GEOCODER is not set): nothing was sent. See docs/operations.md."
        modeladmin.message_user(request, message, messages.WARNING)
        return
    except ImproperlyConfigured as error:
        modeladmin.message_user(request, f"The geocoder is not configured correctly: {error}", messages.ERROR)
        return
    if queryset.count() > GEOCODE_ACTION_LIMIT:
        message = (
            f"Select at most {GEOCODE_ACTION_LIMIT} practices here (the geocoder answers about one a second); "
            "use `manage.py geocode_practices` for more."
        )
        modeladmin.message_user(request, message, messages.ERROR)
        return
    summary = geocode_practices(queryset.order_by("pk"), refresh=False, geocode=geocode)
    level = messages.WARNING if summary.stopped else messages.SUCCESS
    stopped = f" Stopped early: {summary.stopped}." if summary.stopped else ""
    modeladmin.message_user(request, f"{str(summary)[:1].upper()}{str(summary)[1:]}.{stopped}", level)


PracticeAdmin.actions = [*PracticeAdmin.actions, geocode_practice_addresses]


# --- Problem reports from the public profiles (directory.ProfileReport) ------------------------------


class ReportStatusFilter(admin.SimpleListFilter):
    """Open reports first: the list is the curators' to-do list."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [(None, "Open"), ("resolved", "Resolved"), ("all", "All")]

    def choices(self, changelist):
        for value, label in self.lookup_choices:
            yield {
                "selected": self.value() == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}, [])
                if value
                else changelist.get_query_string(remove=[self.parameter_name]),
                "display": label,
            }

    def queryset(self, request, queryset):
        if self.value() == "all":
            return queryset
        return queryset.filter(status=ReportStatus.RESOLVED if self.value() == "resolved" else ReportStatus.OPEN)


@admin.register(ProfileReport)
class ProfileReportAdmin(admin.ModelAdmin):
    form = ProfileReportAdminForm
    list_display = ["number", "profile", "problem", "short_details", "created_at", "status"]
    list_display_links = ["number"]
    list_filter = [ReportStatusFilter, "problem"]
    list_select_related = ["specialist", "practice"]
    search_fields = ["specialist__last_name", "specialist__first_name", "=specialist__npi", "details"]
    search_help_text = "Search by the specialist's name or NPI, or the report's text."
    date_hierarchy = "created_at"
    fieldsets = [
        ("The report", {"fields": ["profile", "practice", "problem", "details", "created_at"]}),
        (
            "Resolution",
            {
                "fields": ["status", "resolution_note", ("resolved_by", "resolved_at")],
                "description": "Fix the profile first (the link above opens it), then mark the report resolved "
                "with a note: the note goes into the specialist's history.",
            },
        ),
    ]
    readonly_fields = ["profile", "practice", "problem", "details", "created_at", "resolved_by", "resolved_at"]

    def has_add_permission(self, request):
        return False  # visitors file reports from the profile page

    @admin.display(description="report", ordering="pk")
    def number(self, report):
        return f"#{report.pk}"

    @admin.display(description="specialist")
    def profile(self, report):
        url = reverse("admin:directory_specialist_change", args=[report.specialist_id])
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">public profile</a>',
            url,
            report.specialist.display_name,
            report.specialist.get_absolute_url(),
        )

    @admin.display(description="details")
    def short_details(self, report):
        return report.details if len(report.details) <= 60 else report.details[:59] + "…"

    def save_model(self, request, obj, form, change):
        if "status" in form.changed_data and obj.status == ReportStatus.RESOLVED:
            obj.resolve(by=request.user, note=obj.resolution_note.strip())
            return
        if obj.status == ReportStatus.OPEN:  # reopened
            obj.resolved_by = obj.resolved_at = None
        super().save_model(request, obj, form, change)
