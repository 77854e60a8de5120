"""Forms for curators (practice and ZIP editing, the profiles CSV upload, problem reports) and the public
problem-report form on a profile."""

from django import forms
from django.core import signing
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from directory.models import (
    CoordinatesSource,
    Practice,
    ProfileReport,
    ReportProblem,
    ReportStatus,
    Specialist,
    ZipCode,
)


class SpecialistAdminForm(forms.ModelForm):
    """The profile form, with a reason that the change history keeps beside the curator's name."""

    change_reason = forms.CharField(
        label="Reason for this change",
        required=False,
        max_length=100,
        help_text="Kept in the history with your name, for example “phoned the practice to confirm”.",
    )

    class Meta:
        model = Specialist
        fields = []  # the admin passes its own field list

    def reason_for(self, change: bool) -> str:
        typed = self.cleaned_data.get("change_reason", "") if hasattr(self, "cleaned_data") else ""
        return typed or ("Edited in the admin" if change else "Created in the admin")


class PracticeAdminForm(forms.ModelForm):
    """Typed coordinates are "set by hand"; cleared ones send the practice back to its ZIP centroid."""

    class Meta:
        model = Practice
        fields = []  # the admin passes its own field list

    def clean_zip_code(self):
        raw = self.cleaned_data["zip_code"]
        return ZipCode.objects.for_input(raw).code if raw else ""

    def clean(self):
        cleaned = super().clean()
        latitude, longitude = cleaned.get("latitude"), cleaned.get("longitude")
        if (latitude is None) != (longitude is None):
            raise ValidationError("Enter both latitude and longitude, or leave both empty to use the ZIP centroid.")
        if latitude is None:
            self.instance.coordinates_source = ""  # Practice.save() places it at the ZIP centroid
        elif {"latitude", "longitude"} & set(self.changed_data):
            self.instance.coordinates_source = CoordinatesSource.MANUAL
        zip_code = cleaned.get("zip_code")
        if zip_code and not (cleaned.get("city") or cleaned.get("state")):
            place = ZipCode.objects.get(code=zip_code)
            cleaned["city"], cleaned["state"] = place.city, place.state
        if "insurance" in self.fields and cleaned.get("insurance") and not cleaned.get("insurance_confirmed_on"):
            # A list without a date could not be told from one nobody checked.
            self.add_error("insurance_confirmed_on", "Enter the date the office confirmed this insurance list.")
        return cleaned


class ZipCodeAdminForm(forms.ModelForm):
    """A centroid edited by hand is marked corrected, so that reloading the ZIP table keeps it."""

    class Meta:
        model = ZipCode
        fields = []  # the admin passes its own field list

    def clean(self):
        cleaned = super().clean()
        if {"latitude", "longitude"} & set(self.changed_data):
            self.instance.is_corrected = True
            self.instance.is_estimated = False  # a curator's centroid is no estimate
        return cleaned


# --- Profiles CSV import in the admin ----------------------------------------------------------------

IMPORT_SIGNING_SALT = "directory.profiles-import"
IMPORT_MAX_AGE_SECONDS = 60 * 60
IMPORT_MAX_BYTES = 5 * 1024 * 1024  # the preview page carries the file back, so keep it modest


class ProfilesUploadForm(forms.Form):
    file = forms.FileField(
        label="Profiles CSV",
        help_text="UTF-8 CSV, one row per specialist (see docs/data-sources.md). Up to 5 MB here; "
        "use `manage.py import_profiles` for larger files.",
    )
    atomic = forms.BooleanField(
        label="All or nothing",
        required=False,
        help_text="Import nothing if any row is rejected.",
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > IMPORT_MAX_BYTES:
            raise ValidationError("The file is larger than 5 MB; import it with `manage.py import_profiles`.")
        try:
            return upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationError("The file is not UTF-8 text; save it as “CSV UTF-8”.") from None


class ProfilesConfirmForm(forms.Form):
    """Carries the previewed file back, signed, so that the confirmed import is exactly what was previewed.

    The signature (with the user's id and a time limit) is checked again on confirm, and the importer
    validates every row again: nothing from the preview step is trusted.
    """

    upload = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    @staticmethod
    def sign(*, text, atomic, user) -> str:
        return signing.dumps({"user": user.pk, "text": text, "atomic": atomic}, salt=IMPORT_SIGNING_SALT, compress=True)

    def clean_upload(self):
        try:
            payload = signing.loads(
                self.cleaned_data["upload"], salt=IMPORT_SIGNING_SALT, max_age=IMPORT_MAX_AGE_SECONDS
            )
        except signing.SignatureExpired:
            raise ValidationError("The preview is more than an hour old; upload the file again.") from None
        except signing.BadSignature:
            raise ValidationError("The uploaded file could not be verified; upload it again.") from None
        if payload.get("user") != self.user.pk:
            raise ValidationError("This preview belongs to another user; upload the file again.")
        return payload


# --- Problem reports ----------------------------------------------------------------------------------


class ProfileReportForm(forms.ModelForm):
    """What a visitor says is wrong on a profile: a choice, optionally which location, optionally a few words."""

    class Meta:
        model = ProfileReport
        fields = ["problem", "practice", "details"]
        widgets = {
            "problem": forms.RadioSelect,
            "details": forms.Textarea(attrs={"rows": 3, "maxlength": ProfileReport.DETAILS_MAX_LENGTH}),
        }
        labels = {
            "problem": _("What is wrong?"),
            "practice": _("Which location?"),
            "details": _("Anything else we should know"),
        }
        help_texts = {
            "practice": "",
            # The limit is ProfileReport.DETAILS_MAX_LENGTH (tests/referral/test_i18n.py keeps them equal).
            "details": _(
                "Optional, up to 500 characters, for example the new phone number or address. Please leave out "
                "your name, contact details and anything about your health."
            ),
        }
        error_messages = {
            "problem": {
                "required": _("Choose what is wrong."),
                "invalid_choice": _("Choose one of the listed problems."),
            },
            "details": {"max_length": _("Please keep it to %(limit_value)d characters (this one has %(show_value)d).")},
        }

    def __init__(self, *args, specialist, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.specialist = specialist
        self.fields["problem"].choices = ReportProblem.choices  # radio buttons: no "---------" choice
        locations = list(specialist.practices.all())
        if len(locations) < 2:  # nothing to choose between
            del self.fields["practice"]
            self.instance.practice = locations[0] if locations else None
        else:
            field = self.fields["practice"]
            field.queryset, field.required, field.empty_label = specialist.practices.all(), False, _("Not about one")
            field.error_messages["invalid_choice"] = _("Choose one of this specialist's locations.")


class ProfileReportAdminForm(forms.ModelForm):
    """Resolving a report needs a note saying what was checked or changed (it goes into the profile's history)."""

    class Meta:
        model = ProfileReport
        fields = []  # the admin passes its own field list

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("status") == ReportStatus.RESOLVED and not (cleaned.get("resolution_note") or "").strip():
            self.add_error("resolution_note", "Say what was checked or changed before resolving the report.")
        return cleaned
