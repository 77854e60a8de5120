"""Curation: the Django admin as the curators' tool for specialist profiles."""

import io

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
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
from simple_history.utils import bulk_update_with_history

from directory.forms import PracticeAdminForm, ProfilesConfirmForm, ProfilesUploadForm, ZipCodeAdminForm
from directory.importers.profiles import ProfileFileError, import_profiles, profiles_for_export, write_profiles_csv
from directory.models import (
    SOURCE_PREFERENCE,
    Affiliation,
    Practice,
    Procedure,
    ProcedureVolume,
    RecordSource,
    ReviewStatus,
    ReviewStub,
    Service,
    Specialist,
    Specialty,
    Training,
    ZipCode,
    specialists_touched,
)

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


def update_specialists(request, specialists, fields):
    """Save these fields of many specialists at once, with history, and announce the change (search index)."""
    bulk_update_with_history(specialists, Specialist, fields, batch_size=500, default_user=request.user)
    specialists_touched(specialist.pk for specialist in specialists)


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
        warning = "" if practice.point else " (no coordinates)"
        return f"{practice.address}{warning}"


class TrainingInline(admin.TabularInline):
    model = Training
    extra = 0
    fields = ["course", "provider", "device_system", "year"]


class ProcedureVolumeInline(admin.TabularInline):
    model = ProcedureVolume
    extra = 0
    fields = ["procedure", "period_start", "period_end", "count", "is_suppressed", "source", "verified"]


@admin.register(Specialist)
class SpecialistAdmin(SimpleHistoryAdmin):
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
                    queryset=Affiliation.objects.select_related("practice").order_by("-is_primary", "id"),
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

    @admin.display(description="past-year counts")
    def past_year_counts(self, specialist):
        today = timezone.localdate()
        parts = []
        for procedure in Procedure:
            volume = specialist.past_year_volume(procedure, today=today)
            if volume is not None:
                count = "<11" if volume.is_suppressed else volume.count
                parts.append((PROCEDURE_ABBREVIATIONS[procedure], count))
        if not parts:
            return format_html('<span class="sij-none">{}</span>', "none")
        return format_html_join(mark_safe("<br>"), '<span class="sij-count">{}&nbsp;{}</span>', parts)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        specialist = self.get_object(request, object_id)
        hints = specialist.data_quality_hints() if specialist is not None else []
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), "data_quality_hints": hints})

    def save_model(self, request, obj, form, change):
        if change:
            record_curator_edits(obj, [name for name in form.changed_data if name in CURATED_IDENTITY_FIELDS])
        super().save_model(request, obj, form, change)

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        if change and formset.model is Affiliation and formset.has_changed():
            record_curator_edits(form.instance, ["practices"])
            form.instance.save(update_fields=["curator_edited_fields"])

    @admin.action(description="Publish selected specialists", permissions=["change"])
    def publish(self, request, queryset):
        self._set_published(request, queryset, True)

    @admin.action(description="Unpublish selected specialists", permissions=["change"])
    def unpublish(self, request, queryset):
        self._set_published(request, queryset, False)

    def _set_published(self, request, queryset, published):
        to_change = list(queryset.exclude(is_published=published))
        for specialist in to_change:
            specialist.is_published = published
        update_specialists(request, to_change, ["is_published"])
        verb = "Published" if published else "Unpublished"
        already = queryset.count() - len(to_change)
        note = f" ({already} already {verb.lower()})" if already else ""
        self.message_user(request, f"{verb} {plural(len(to_change), 'specialist')}{note}.", messages.SUCCESS)

    @admin.action(description="Mark selected specialists as verified (by you, now)", permissions=["change"])
    def mark_verified(self, request, queryset):
        specialists = list(queryset)
        now = timezone.now()
        for specialist in specialists:
            specialist.verified_at, specialist.verified_by = now, request.user
        update_specialists(request, specialists, ["verified_at", "verified_by"])
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


@admin.register(Practice)
class PracticeAdmin(SimpleHistoryAdmin):
    form = PracticeAdminForm
    list_display = ["name", "address_line1", "city", "state", "zip_code", "phone", "coordinates_source"]
    list_filter = ["state", "coordinates_source", HasCoordinatesFilter]
    search_fields = ["name", "address_line1", "city", "=zip_code", "phone"]
    search_help_text = "Search by name, street address, city, ZIP or phone."
    inlines = [PracticeSpecialistInline]
    fieldsets = [
        (None, {"fields": ["name", "address_line1", "address_line2", ("city", "state", "zip_code"), "phone"]}),
        (
            "Location on the map",
            {
                "fields": [("latitude", "longitude"), "coordinates_source"],
                "description": "Leave latitude and longitude empty to place the practice at its ZIP centroid; "
                "type them to set the location by hand.",
            },
        ),
    ]
    readonly_fields = ["coordinates_source"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        location_edits = [name for name in form.changed_data if name in CURATED_PRACTICE_FIELDS]
        if change and location_edits:
            # Importers must not move these specialists back to the address the source knows.
            for specialist in obj.specialists.all():
                record_curator_edits(specialist, location_edits)
                specialist.save(update_fields=["curator_edited_fields"])


@admin.register(ZipCode)
class ZipCodeAdmin(SimpleHistoryAdmin):
    form = ZipCodeAdminForm
    list_display = ["code", "city", "state", "latitude", "longitude", "is_corrected"]
    list_filter = ["is_corrected", "state"]
    search_fields = ["=code", "city"]
    search_help_text = "Search by ZIP or city."
    fields = ["code", ("city", "state"), ("latitude", "longitude"), "is_corrected"]
    readonly_fields = ["is_corrected"]


@admin.register(Training)
class TrainingAdmin(SimpleHistoryAdmin):
    list_display = ["course", "specialist", "provider", "device_system", "year"]
    list_filter = ["year", "device_system"]
    search_fields = ["course", "provider", "device_system", "specialist__last_name", "=specialist__npi"]
    autocomplete_fields = ["specialist"]
    list_select_related = ["specialist"]


@admin.register(ProcedureVolume)
class ProcedureVolumeAdmin(SimpleHistoryAdmin):
    list_display = ["specialist", "procedure", "period_start", "period_end", "count", "source", "verified"]
    list_filter = ["procedure", "source", "verified", "is_suppressed"]
    search_fields = ["specialist__last_name", "specialist__first_name", "=specialist__npi"]
    date_hierarchy = "period_end"
    autocomplete_fields = ["specialist"]
    list_select_related = ["specialist"]


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
                    queryset=Affiliation.objects.select_related("practice").order_by("-is_primary", "id"),
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
        ready = list(Specialist.objects.filter(pk__in=queryset.values("pk"), deactivated_on__isnull=True))
        for specialist in ready:
            specialist.review_status, specialist.is_published = ReviewStatus.CURATED, True
        update_specialists(request, ready, ["review_status", "is_published"])
        self.message_user(request, f"Published {plural(len(ready), 'specialist')}.", messages.SUCCESS)
        if deactivated := queryset.filter(deactivated_on__isnull=False).count():
            note = f"Left {plural(deactivated, 'specialist')} with a deactivated NPI unpublished."
            self.message_user(request, note, messages.WARNING)

    @admin.action(description="Dismiss (keep out of the directory, also on later imports)", permissions=["change"])
    def dismiss(self, request, queryset):
        dismissed = list(Specialist.objects.filter(pk__in=queryset.values("pk")))
        for specialist in dismissed:
            specialist.review_status, specialist.is_published = ReviewStatus.DISMISSED, False
        update_specialists(request, dismissed, ["review_status", "is_published"])
        self.message_user(request, f"Dismissed {plural(len(dismissed), 'specialist')}.", messages.SUCCESS)
