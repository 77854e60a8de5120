from django.db import migrations

from directory import geo

US_STATES_AND_TERRITORIES = set(  # directory.models.US_STATES_AND_TERRITORIES, as of this migration
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND "
    "OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR VI GU MP AS".split()
)


def placeable(latitude, longitude):
    return latitude is not None and longitude is not None and geo.in_us_area((latitude, longitude))


def locate(apps, schema_editor):
    """Reload the ZIPs (none at 0,0) and take every practice off 0,0 and out of the ocean."""
    from directory.importers.zipcodes import load_zipcodes

    ZipCode = apps.get_model("directory", "ZipCode")
    Practice = apps.get_model("directory", "Practice")
    # A "correction" at 0,0 or outside the US is no correction: let the reload place those ZIPs.
    for zip_code in ZipCode.objects.filter(is_corrected=True):
        if not placeable(zip_code.latitude, zip_code.longitude):
            ZipCode.objects.filter(pk=zip_code.pk).update(latitude=None, longitude=None, is_corrected=False)
    load_zipcodes(ZipCode)

    # Practice.place_at_centroid, as of this migration: placed only at a located, non-military US ZIP.
    zips = {
        z.code: z
        for z in ZipCode.objects.filter(latitude__isnull=False).exclude(kind="military").exclude(
            state__in=["AA", "AE", "AP"]
        )
    }
    changed = []
    for practice in Practice.objects.all().iterator(chunk_size=2000):
        before = (practice.latitude, practice.longitude, practice.coordinates_source)
        outside_us = bool(practice.state) and practice.state.upper() not in US_STATES_AND_TERRITORIES
        if practice.coordinates_source in ("", "zip_centroid") or outside_us:
            found = None if outside_us else zips.get(practice.zip_code)
            if found is None:
                practice.latitude = practice.longitude = None
                practice.coordinates_source = ""
            else:
                practice.latitude, practice.longitude = found.latitude, found.longitude
                practice.coordinates_source = "zip_centroid"
        elif not placeable(practice.latitude, practice.longitude):
            practice.latitude = practice.longitude = None
            practice.coordinates_source = ""
        if (practice.latitude, practice.longitude, practice.coordinates_source) != before:
            changed.append(practice)
    Practice.objects.bulk_update(changed, ["latitude", "longitude", "coordinates_source"], batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [("directory", "0006_zipcode_locations")]
    operations = [migrations.RunPython(locate, migrations.RunPython.noop)]
