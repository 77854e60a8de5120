"""Forms for curators: practice and ZIP editing in the admin, the profiles CSV upload."""

from django import forms
from django.core import signing
from django.core.exceptions import ValidationError

from directory.models import CoordinatesSource, Practice, ZipCode


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
