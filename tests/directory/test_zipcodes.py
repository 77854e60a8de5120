import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, transaction

from directory import geo
from directory.importers.zipcodes import load_zipcodes, zip_rows
from directory.models import ZipCode, ZipKind, normalize_zip


@pytest.mark.parametrize(
    ("raw", "zip5"),
    [("60611", "60611"), ("60611-1234", "60611"), (" 60611 ", "60611"), ("606111234", "60611"), ("02115", "02115")],
)
def test_normalize_zip_accepts_zip5_and_zip_plus_4(raw, zip5):
    assert normalize_zip(raw) == zip5


@pytest.mark.parametrize("raw", ["", None, "6061", "606111", "60611-12", "abcde", "60 611", "60611-", "６０６１１"])
def test_normalize_zip_rejects_malformed_input(raw):
    with pytest.raises(ValidationError, match="ZIP codes have 5 digits"):
        normalize_zip(raw)


@pytest.mark.django_db
def test_every_us_zip_is_loaded_by_migrations():
    assert ZipCode.objects.count() >= 40_000
    chicago = ZipCode.objects.for_input(" 60611-1234 ")
    assert (chicago.city, chicago.state) == ("Chicago", "IL")
    assert chicago.latitude == pytest.approx(41.89, abs=0.05)


@pytest.mark.django_db
def test_unknown_well_formed_zip_is_named():
    with pytest.raises(ValidationError, match="No such US ZIP: 00000"):
        ZipCode.objects.for_input("00000")


@pytest.mark.django_db
def test_reload_keeps_curator_corrections_and_restores_others():
    ZipCode.objects.filter(code="60611").update(latitude=41.0, longitude=-87.0, is_corrected=True)
    ZipCode.objects.filter(code="10001").update(latitude=40.0, longitude=-75.0)
    ZipCode.objects.filter(code="90210").delete()

    result = load_zipcodes()

    assert result.kept_corrections == 1
    assert ZipCode.objects.get(code="60611").point == (41.0, -87.0)
    assert ZipCode.objects.get(code="10001").latitude == pytest.approx(40.75, abs=0.05)
    assert ZipCode.objects.filter(code="90210").exists()


@pytest.mark.django_db
def test_no_zip_is_at_0_0_or_outside_the_us_after_loading():
    load_zipcodes()
    located = list(ZipCode.objects.located().values_list("latitude", "longitude"))
    assert len(located) >= 41_000
    assert (0.0, 0.0) not in located
    assert all(geo.in_us_area(point) for point in located)
    # The package's 0,0 rows: military ones and those with nothing to estimate from stay unlocated.
    assert ZipCode.objects.filter(latitude__isnull=True).count() >= 800
    assert not ZipCode.objects.filter(latitude=0, longitude=0).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            "09001",
            "09001 is a military (APO/FPO/DPO) address with no fixed location; "
            "enter the ZIP code where you live or will be treated.",
        ),
        ("96205", "96205 is a military (APO/FPO/DPO) address"),
        ("34002-1234", "34002 is a military (APO/FPO/DPO) address"),
        ("09905", "09905 is a military (APO/FPO/DPO) address"),  # "Apo, NJ": a military PO box
        ("96939", "96939 (Ngerulmud, PW) is outside the US states and territories this directory covers"),
        ("88888", "88888 (North Pole, DC) serves a single organisation and has no known location; enter the ZIP"),
    ],
)
def test_zips_no_one_can_be_placed_at_are_refused_with_what_to_enter(raw, message):
    with pytest.raises(ValidationError) as raised:
        ZipCode.objects.for_input(raw)
    assert message in raised.value.messages[0]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("code", "near"),
    [("11805", (40.77, -73.53)), ("90085", (34.05, -118.25)), ("77352", (30.71, -94.93))],
)
def test_zip_without_a_location_of_its_own_is_placed_at_its_city_and_marked_estimated(code, near):
    zip_code = ZipCode.objects.for_input(code)
    assert zip_code.is_estimated
    assert geo.distance_miles(zip_code.point, near) < 15
    assert not ZipCode.objects.get(code="60611").is_estimated


@pytest.mark.django_db
def test_a_curator_can_place_a_zip_by_hand_and_the_reload_keeps_it():
    ZipCode.objects.filter(code="88888").update(latitude=38.9, longitude=-77.03, is_corrected=True)
    load_zipcodes()
    assert ZipCode.objects.for_input("88888").point == (38.9, -77.03)


@pytest.mark.django_db
@pytest.mark.parametrize("point", [(0.0, 0.0), (41.9, 87.6), (-41.9, -87.6), (45.5, -73.6 + 200)])
def test_the_database_refuses_a_zip_at_0_0_or_outside_the_us(point):
    with pytest.raises(IntegrityError), transaction.atomic():
        ZipCode.objects.filter(code="60611").update(latitude=point[0], longitude=point[1])


def _package_row(code, city, state, lat, lng, kind="STANDARD"):
    return {
        "zip_code": code,
        "city": city,
        "state": state,
        "lat": lat,
        "long": lng,
        "zip_code_type": kind,
        "active": True,
    }


def test_estimates_average_across_the_antimeridian_and_military_zips_stay_unlocated():
    rows = zip_rows(
        [
            _package_row("99546", "Adak", "AK", "51.9", "-176.6"),
            _package_row("99547", "Adak", "AK", "51.9", "179.0"),
            _package_row("99548", "Adak", "AK", "0", "0", kind="PO BOX"),
            _package_row("09001", "Apo", "AE", "0", "0", kind="MILITARY"),
            _package_row("09002", "Apo", "AE", "48.0", "8.0", kind="MILITARY"),
            _package_row("12345", "Nowhere", "NY", "0", "0", kind="UNIQUE"),
        ]
    )
    by_code = {row["code"]: row for row in rows}
    estimated = by_code["99548"]
    assert estimated["is_estimated"] and estimated["kind"] == ZipKind.PO_BOX
    assert geo.in_us_area((estimated["latitude"], estimated["longitude"]))
    assert abs(estimated["longitude"]) > 178  # not the -0.8 a plain average of -176.6 and 179.0 gives
    for code in ("09001", "09002", "12345"):
        assert by_code[code]["latitude"] is None and not by_code[code]["is_estimated"]
    assert by_code["09002"]["kind"] == ZipKind.MILITARY


@pytest.mark.django_db
def test_load_zipcodes_command_reports_what_it_did(capsys):
    from io import StringIO

    out = StringIO()
    call_command("load_zipcodes", stdout=out)
    assert "Loaded" in out.getvalue() and "ZIP codes" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_the_data_migration_takes_zips_and_practices_off_0_0():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before, after = [("directory", "0006_zipcode_locations")], [("directory", "0008_location_constraints")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        apps = executor.loader.project_state(before).apps
        OldZip, OldPractice = apps.get_model("directory", "ZipCode"), apps.get_model("directory", "Practice")
        OldZip.objects.filter(code="90085").update(latitude=0.0, longitude=0.0)  # as the package gives it
        OldZip.objects.filter(code="09001").update(latitude=0.0, longitude=0.0, is_corrected=True)
        at_zero = OldPractice.objects.create(
            name="A", zip_code="90085", latitude=0.0, longitude=0.0, coordinates_source="zip_centroid"
        )
        military = OldPractice.objects.create(
            name="B", zip_code="09001", latitude=0.0, longitude=0.0, coordinates_source="zip_centroid"
        )
        by_hand = OldPractice.objects.create(
            name="C", zip_code="60611", latitude=41.9, longitude=87.6, coordinates_source="manual"
        )
        montreal = OldPractice.objects.create(
            name="D", state="QC", zip_code="60611", latitude=41.9, longitude=-87.6, coordinates_source="zip_centroid"
        )
        executor = MigrationExecutor(connection)
        executor.migrate(after)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

    from directory.models import Practice

    assert not ZipCode.objects.filter(latitude=0, longitude=0).exists()
    assert ZipCode.objects.get(code="90085").is_estimated
    assert ZipCode.objects.get(code="09001").point is None
    assert Practice.objects.get(pk=at_zero.pk).latitude == pytest.approx(34.03, abs=0.1)
    for practice in (military, by_hand, montreal):
        assert Practice.objects.get(pk=practice.pk).point is None


@pytest.mark.django_db
def test_search_page_and_api_refuse_a_military_zip_with_the_message(client):
    message = "09001 is a military (APO/FPO/DPO) address with no fixed location"
    page = client.get("/search/", {"zip": "09001"})
    assert page.status_code == 200 and message in page.content.decode()
    api = client.get("/api/v1/search", {"zip": "09001"})
    assert api.status_code == 400 and "zip" in api.json()["errors"] and message in str(api.json()["errors"]["zip"])
