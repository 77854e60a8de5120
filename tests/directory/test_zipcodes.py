import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from directory.importers.zipcodes import load_zipcodes
from directory.models import ZipCode, normalize_zip


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
    ZipCode.objects.filter(code="10001").update(latitude=0.0, longitude=0.0)
    ZipCode.objects.filter(code="90210").delete()

    result = load_zipcodes()

    assert result.kept_corrections == 1
    assert ZipCode.objects.get(code="60611").point == (41.0, -87.0)
    assert ZipCode.objects.get(code="10001").latitude == pytest.approx(40.75, abs=0.05)
    assert ZipCode.objects.filter(code="90210").exists()


@pytest.mark.django_db
def test_load_zipcodes_command_reports_what_it_did(capsys):
    from io import StringIO

    out = StringIO()
    call_command("load_zipcodes", stdout=out)
    assert "Loaded" in out.getvalue() and "ZIP codes" in out.getvalue()
