import datetime
import io
import json
import re

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from directory import geo
from directory.management.commands.make_demo_fixture import build_demo_fixture
from directory.management.commands.setup_demo import load_demo_fixture
from directory.models import (
    CoordinatesSource,
    Practice,
    Procedure,
    ProcedureVolume,
    RecordSource,
    Specialist,
    ZipCode,
    validate_npi,
)
from directory.volumes import add_months


def fixture_objects(model):
    return [obj for obj in build_demo_fixture() if obj["model"] == f"directory.{model}"]


@pytest.fixture(scope="module")
def demo_loaded(django_db_setup, django_db_blocker, tmp_path_factory):
    """Load the demo (built for today) once for this module, in a transaction rolled back after its last test."""
    with django_db_blocker.unblock(), transaction.atomic():
        load_demo_fixture(tmp_path_factory.mktemp("demo") / "demo.json")
        yield
        transaction.set_rollback(True)


@pytest.fixture
def demo(demo_loaded, db):
    """The demo specialists; each test runs in a savepoint inside the module's transaction."""
    return Specialist.objects.filter(record_source=RecordSource.DEMO)


def test_generator_is_deterministic_per_seed_and_day():
    day = datetime.date(2030, 5, 17)
    assert build_demo_fixture(seed=7, today=day) == build_demo_fixture(seed=7, today=day)
    assert build_demo_fixture(seed=7, today=day) != build_demo_fixture(seed=8, today=day)


def test_only_the_dates_change_from_one_day_to_the_next():
    def undated(objects):
        dated = (
            "period_start",
            "period_end",
            "verified_at",
            "created_at",
            "updated_at",
            "year",
            "insurance_confirmed_on",
        )
        return [(o["model"], o["pk"], {k: v for k, v in o["fields"].items() if k not in dated}) for o in objects]

    assert undated(build_demo_fixture(today=datetime.date(2027, 2, 1))) == undated(
        build_demo_fixture(today=datetime.date(2031, 9, 30))
    )


def test_make_demo_fixture_writes_a_loadable_file(tmp_path, db):
    path = tmp_path / "demo.json"
    call_command("make_demo_fixture", "--output", str(path), stdout=io.StringIO())
    assert json.loads(path.read_text()) == build_demo_fixture()
    call_command("loaddata", path, verbosity=0)
    assert Specialist.objects.filter(record_source=RecordSource.DEMO).count() == len(fixture_objects("specialist"))


def test_demo_practices_are_marked_fictional():
    practices = fixture_objects("practice")
    assert practices
    for practice in practices:
        assert "Demo" in practice["fields"]["name"]
        assert re.fullmatch(r"[2-9][0-9]{2}-555-01[0-9]{2}", practice["fields"]["phone"]), practice["fields"]["phone"]


def test_demo_npis_are_valid_but_can_never_be_real():
    npis = [obj["fields"]["npi"] for obj in fixture_objects("specialist")]
    assert len(set(npis)) == len(npis)
    for npi in npis:
        validate_npi(npi)  # raises if the check digit is wrong
        assert npi.startswith("9")  # real NPIs start with 1 or 2


def test_demo_rows_use_the_high_primary_key_range():
    assert min(obj["pk"] for obj in build_demo_fixture()) >= 900001


def test_demo_fixture_loads_a_country_wide_directory(demo):
    assert demo.count() >= 150
    assert demo.exclude(review_status="curated").count() == 0
    cities = Practice.objects.filter(specialists__in=demo).values_list("city", "state").distinct()
    assert cities.count() >= 30
    assert {"AK", "HI"} <= {state for _city, state in cities}
    assert demo.filter(is_published=False).exists()
    assert demo.filter(verified_at__isnull=False).exists()
    assert demo.filter(practices__isnull=True).count() == 0


def test_every_demo_practice_sits_at_its_zip_centroid(demo):
    practices = Practice.objects.filter(specialists__in=demo).distinct()
    centroids = {z.code: z for z in ZipCode.objects.filter(code__in=practices.values("zip_code"))}
    for practice in practices:
        zip_code = centroids[practice.zip_code]
        assert (practice.latitude, practice.longitude) == (zip_code.latitude, zip_code.longitude), practice
        assert practice.coordinates_source == CoordinatesSource.ZIP_CENTROID
        assert (practice.city, practice.state) == (zip_code.city, zip_code.state)


def test_demo_counts_cover_current_stale_missing_and_suppressed(demo):
    current, stale_only, without_counts = [], [], []
    for specialist in demo.prefetch_related("volumes"):
        volumes = list(specialist.volumes.all())
        if any(specialist.past_year_volume(procedure) for procedure in Procedure):
            current.append(specialist)
        elif volumes:
            stale_only.append(specialist)
            assert all(volume.period_end < add_months(timezone.localdate(), -24) for volume in volumes)
        else:
            without_counts.append(specialist)
    assert len(current) > len(stale_only) > 0
    assert without_counts
    suppressed = ProcedureVolume.objects.filter(specialist__in=demo, is_suppressed=True)
    assert suppressed.exists()
    assert set(suppressed.values_list("source", flat=True)) == {"cms_medicare"}
    assert not suppressed.filter(count__isnull=False).exists()


def test_demo_surgeons_and_injectors_have_matching_counts(demo):
    fusion_counts = ProcedureVolume.objects.filter(specialist__in=demo, procedure=Procedure.MIS_SI_FUSION)
    assert set(fusion_counts.values_list("specialist__offers_mis_si_fusion", flat=True)) == {True}
    rf_counts = ProcedureVolume.objects.filter(specialist__in=demo, procedure=Procedure.RF_ABLATION)
    assert set(rf_counts.values_list("specialist__offers_rf_ablation", flat=True)) == {True}
    lumbar = ProcedureVolume.objects.filter(specialist__in=demo, procedure=Procedure.LUMBAR_FUSION)
    assert set(lumbar.values_list("specialist__specialty", flat=True)) == {"orthopaedic_spine", "neurosurgery"}
    assert demo.filter(affiliation__is_primary=False).exists()  # some practise at two places


def published_within_25_miles(demo, zip_code):
    origin = ZipCode.objects.get(code=zip_code)
    return sum(
        1
        for specialist in demo.published().prefetch_related("practices")
        if min(geo.distance_miles(origin.point, practice.point) for practice in specialist.practices.all()) <= 25
    )


def test_demo_searches_have_something_to_rank_and_one_place_has_almost_nothing(demo):
    for busy_zip in ("60611", "10001", "77030", "90033", "80218"):
        assert published_within_25_miles(demo, busy_zip) >= 5, busy_zip
    assert 1 <= published_within_25_miles(demo, "59101") <= 2  # Billings: the rest lie beyond the radius
