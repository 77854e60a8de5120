"""Forms for curators: practice and ZIP editing in the admin, the profiles CSV upload."""

from django import forms
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
