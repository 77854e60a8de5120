import datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from bench.public_files import NPPES_HEADER, nppes_deactivated_row, nppes_header, nppes_row, write_csv
from directory.importers.nppes import import_nppes
from directory.importers.streaming import ImportFileError
from directory.models import Practice, RecordSource, ReviewStatus, SourceRecord, Specialist
from directory.taxonomy import TAXONOMIES
from tests.factories import PracticeFactory, SpecialistFactory, make_npi

pytestmark = pytest.mark.django_db

NPI_A, NPI_B, NPI_C = make_npi(7001), make_npi(7002), make_npi(7003)
NAME = "npidata_pfile_20050523-20251109.csv"


def run(path, *args) -> str:
    out = StringIO()
    call_command("import_nppes", str(path), *args, stdout=out)
    return out.getvalue()


def nppes_file(tmp_path, rows, name=NAME, header=NPPES_HEADER):
    return write_csv(tmp_path / name, header, rows, quote_all=True)


def test_keeps_individuals_with_a_relevant_taxonomy_in_any_slot(tmp_path):
    rows = [
        nppes_row(NPI_A, taxonomies=["207Q00000X"] * 6 + ["208VP0014X"]),  # slot 7
        nppes_row(NPI_B, taxonomies=["207Q00000X"]),  # family medicine only
        nppes_row(NPI_C, **{"Entity Type Code": "2"}),  # an organization
    ]
    output = run(nppes_file(tmp_path, rows))

    stub = Specialist.objects.get()
    assert (stub.npi, stub.specialty, stub.review_status, stub.is_published) == (
        NPI_A,
        "pain_medicine",
        "pending",
        False,
    )
    assert stub.record_source == RecordSource.NPPES
    assert "kept 1 rows of individual providers" in output


def test_every_taxonomy_has_a_label_and_a_specialty():
    assert len(TAXONOMIES) == 9
    assert all(taxonomy.label and taxonomy.specialty for taxonomy in TAXONOMIES.values())


@pytest.mark.parametrize("sex_column", ["Provider Sex Code", "Provider Gender Code"])
def test_accepts_the_sex_and_the_older_gender_column(tmp_path, sex_column):
    header = nppes_header(sex_column)
    run(nppes_file(tmp_path, [nppes_row(NPI_A, header=header, **{sex_column: "M"})], header=header))

    assert Specialist.objects.get().gender == "M"


def test_new_npi_becomes_a_stub_with_its_practice_location_and_what_nppes_said(tmp_path):
    run(nppes_file(tmp_path, [nppes_row(NPI_A, taxonomies=["207Q00000X", "207XS0117X"])]))

    stub = Specialist.objects.get()
    assert (stub.first_name, stub.middle_name, stub.last_name, stub.credentials, stub.gender) == (
        "Jane",
        "Q",
        "Smith",
        "M.D.",
        "F",
    )
    assert stub.specialty == "orthopaedic_spine"
    practice = stub.practices.get()
    assert practice.address == "1200 N State St, Suite 400, Chicago, IL 60611"  # ZIP+4 606111234 → 60611
    assert practice.phone == "312-555-0100"
    assert practice.latitude == pytest.approx(41.89, abs=0.05)
    data = stub.source_records.get(source=RecordSource.NPPES).data
    assert data["taxonomies"] == [
        {"code": "207Q00000X", "label": "", "primary": True},
        {"code": "207XS0117X", "label": "Orthopaedic Surgery of the Spine", "primary": False},
    ]
    assert data["address"] == practice.address
    assert data["enumerated_on"] == "2007-05-23"


@pytest.mark.parametrize(("postal_code", "zip_code"), [("606111234", "60611"), ("60611", "60611"), ("A1B2C3", "")])
def test_uses_the_first_five_digits_of_a_zip_plus_4(tmp_path, postal_code, zip_code):
    key = "Provider Business Practice Location Address Postal Code"
    run(nppes_file(tmp_path, [nppes_row(NPI_A, **{key: postal_code})]))

    assert Specialist.objects.get().practices.get().zip_code == zip_code


def test_fills_identity_fields_curators_have_not_edited(tmp_path):
    curated = SpecialistFactory(npi=NPI_A, first_name="J.", last_name="Smith-Lee", curator_edited_fields=["last_name"])
    practice = curated.practices.get()
    output = run(nppes_file(tmp_path, [nppes_row(NPI_A, **{"Provider Credential Text": "M.D., PH.D."})]))

    curated.refresh_from_db()
    assert (curated.first_name, curated.last_name, curated.credentials) == ("Jane", "Smith-Lee", "M.D., PH.D.")
    assert (curated.review_status, curated.is_published) == ("curated", True)
    assert list(curated.practices.all()) == [practice]  # a curated practice is never moved by an import
    assert Practice.objects.get().address_line1 == practice.address_line1
    assert "Updated 1 specialists" in output


def test_moves_a_pending_stubs_own_practice_but_keeps_edited_practice_fields(tmp_path):
    stub = SpecialistFactory(
        npi=NPI_A,
        is_published=False,
        review_status=ReviewStatus.PENDING,
        curator_edited_fields=["phone"],
        practices=[PracticeFactory(address_line1="1 Old Rd", city="Evanston", zip_code="60201", phone="847-555-0100")],
    )
    run(nppes_file(tmp_path, [nppes_row(NPI_A)]))

    practice = stub.practices.get()
    assert (practice.address_line1, practice.city, practice.zip_code, practice.phone) == (
        "1200 N State St",
        "Chicago",
        "60611",
        "847-555-0100",
    )
    assert practice.latitude == pytest.approx(41.89, abs=0.05)


def test_reimporting_the_same_file_changes_nothing(tmp_path):
    SpecialistFactory(npi=NPI_A)
    path = nppes_file(tmp_path, [nppes_row(NPI_A), nppes_row(NPI_B)])
    run(path)
    snapshot = list(Specialist.objects.values().order_by("npi"))
    for row in snapshot:
        row.pop("updated_at")
    output = run(path)

    again = list(Specialist.objects.values().order_by("npi"))
    for row in again:
        row.pop("updated_at")
    assert again == snapshot
    assert (Practice.objects.count(), SourceRecord.objects.count()) == (2, 2)
    assert "Updated 0 specialists, 2 unchanged, 0 new" in output


def test_dismissed_npi_stays_dismissed(tmp_path):
    dismissed = SpecialistFactory(npi=NPI_A, first_name="Old", is_published=False, review_status=ReviewStatus.DISMISSED)
    run(nppes_file(tmp_path, [nppes_row(NPI_A)]))
    run(nppes_file(tmp_path, [nppes_deactivated_row(NPI_A)], name="npidata_pfile_weekly.csv"))

    dismissed.refresh_from_db()
    assert (dismissed.review_status, dismissed.is_published, dismissed.first_name) == ("dismissed", False, "Old")
    assert dismissed.deactivated_on is None
    assert Specialist.objects.count() == 1
    assert dismissed.source_records.get().data["name"] == "Jane Q Smith"


def test_deactivated_npi_unpublishes_the_profile_and_says_why(tmp_path):
    published = SpecialistFactory(npi=NPI_A)
    output = run(nppes_file(tmp_path, [nppes_deactivated_row(NPI_A, "03/15/2025", reason="DT"), nppes_row(NPI_B)]))

    published.refresh_from_db()
    assert (published.is_published, published.deactivated_on) == (False, datetime.date(2025, 3, 15))
    assert published.unpublished_reason == "NPPES: NPI deactivated on 2025-03-15 (death)"
    assert "Unpublished 1 profiles" in output
    assert not Specialist.objects.filter(npi=NPI_B, deactivated_on__isnull=False).exists()


def test_reactivated_npi_is_marked_active_but_not_republished(tmp_path):
    SpecialistFactory(npi=NPI_A)
    run(nppes_file(tmp_path, [nppes_deactivated_row(NPI_A, "03/15/2025")]))
    reactivated = nppes_row(NPI_A, **{"NPI Deactivation Date": "03/15/2025", "NPI Reactivation Date": "06/01/2025"})
    run(nppes_file(tmp_path, [reactivated], name="npidata_pfile_weekly.csv"))

    specialist = Specialist.objects.get()
    assert (specialist.deactivated_on, specialist.is_published) == (None, False)
    assert specialist.unpublished_reason == "NPPES: NPI reactivated; review before publishing again"


def test_a_deactivated_npi_not_in_the_directory_is_not_added(tmp_path):
    run(nppes_file(tmp_path, [nppes_deactivated_row(NPI_A)]))

    assert not Specialist.objects.exists()


def test_reads_the_npidata_file_inside_the_nppes_zip(tmp_path):
    path = write_csv(
        tmp_path / "NPPES_Data_Dissemination_November_2025.zip",
        NPPES_HEADER,
        [nppes_row(NPI_A)],
        quote_all=True,
        member="npidata_pfile_20050523-20251109.csv",
    )
    run(path)

    assert Specialist.objects.get().npi == NPI_A


def test_a_zip_without_npidata_is_refused(tmp_path):
    path = write_csv(tmp_path / "other.zip", NPPES_HEADER, [nppes_row(NPI_A)], member="endpoint_pfile.csv")

    with pytest.raises(CommandError, match="The ZIP archive holds no CSV file whose name contains 'npidata'"):
        run(path)


def test_reads_gzip(tmp_path):
    run(nppes_file(tmp_path, [nppes_row(NPI_A)], name=NAME + ".gz"))

    assert Specialist.objects.get().npi == NPI_A


def test_malformed_row_after_earlier_batches_were_written_with_atomic_changes_nothing(tmp_path):
    SpecialistFactory(npi=NPI_A, first_name="Kept")
    rows = [nppes_row(NPI_A), *(nppes_row(make_npi(30000 + n)) for n in range(2100)), nppes_row("1234567890")]
    path = nppes_file(tmp_path, rows)  # rows are written in batches of 10 long before row 2103

    with pytest.raises(ImportFileError, match=r"Row 2103: NPI 1234567890 has a wrong check digit.*--atomic"):
        import_nppes(path, atomic=True, batch_rows=10)
    assert list(Specialist.objects.values_list("npi", "first_name")) == [(NPI_A, "Kept")]
    assert not SourceRecord.objects.exists()


def test_malformed_rows_are_reported_and_skipped_without_atomic(tmp_path):
    rows = [nppes_row(NPI_A), nppes_row("1234567890"), nppes_row(NPI_B)[:40]]
    output = run(nppes_file(tmp_path, rows))

    assert list(Specialist.objects.values_list("npi", flat=True)) == [NPI_A]
    assert "row 3: NPI 1234567890 has a wrong check digit" in output
    assert "row 4: 40 fields, expected 330" in output


def test_unrelated_file_names_the_missing_columns(tmp_path):
    with pytest.raises(CommandError, match="Missing column.*Provider Sex Code or Provider Gender Code"):
        run(write_csv(tmp_path / "other.csv", ["NPI", "Entity Type Code"], [[NPI_A, "1"]]))


def test_progress_bar_stays_quiet_when_stderr_is_not_a_terminal(tmp_path, capsys):
    path = nppes_file(tmp_path, [nppes_row(NPI_A)])
    run(path)
    assert capsys.readouterr().err == ""

    import_nppes(path, progress=True)
    assert "NPPES: 100%" in capsys.readouterr().err


def test_weekly_update_applies_the_same_way(tmp_path):
    run(nppes_file(tmp_path, [nppes_row(NPI_A)]))
    moved = nppes_row(NPI_A, **{"Provider First Line Business Practice Location Address": "500 LAKE SHORE DR"})
    run(nppes_file(tmp_path, [moved], name="npidata_pfile_20251103-20251109.csv"))

    assert Specialist.objects.get().practices.get().address_line1 == "500 Lake Shore Dr"


def test_refines_a_pending_stubs_guessed_specialty_but_not_a_curated_one(tmp_path):
    stub = SpecialistFactory(npi=NPI_A, specialty="other", is_published=False, review_status=ReviewStatus.PENDING)
    curated = SpecialistFactory(npi=NPI_B, specialty="pmr", is_published=False, unpublished_reason="On leave")
    run(nppes_file(tmp_path, [nppes_row(NPI_A), nppes_row(NPI_B)]))  # 207XS0117X: orthopaedic spine

    stub.refresh_from_db(), curated.refresh_from_db()
    assert (stub.specialty, curated.specialty) == ("orthopaedic_spine", "pmr")
    assert (curated.first_name, curated.unpublished_reason) == ("Jane", "On leave")  # one batch, own fields


# --- bad cells, names, places outside the US -----------------------------------------------------------


def test_a_blank_space_deactivation_date_is_no_deactivation(tmp_path):
    SpecialistFactory(npi=NPI_A, first_name="Jane")
    output = run(nppes_file(tmp_path, [nppes_row(NPI_A, **{"NPI Deactivation Date": " "})]))
    specialist = Specialist.objects.get(npi=NPI_A)
    assert specialist.deactivated_on is None and specialist.is_published
    assert "Rejected" not in output


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"Provider Last Name (Legal Name)": "SMI\x00TH"}, "Provider Last Name (Legal Name): holds a NUL byte"),
        ({"Provider Enumeration Date": "13/45/2007"}, "month must be in 1..12"),
    ],
)
def test_a_bad_cell_rejects_its_row_and_the_summary_adds_up(tmp_path, values, reason):
    rows = [nppes_row(NPI_A), nppes_row(NPI_B, **values), nppes_row(NPI_C, taxonomies=("207Q00000X",))]
    output = run(nppes_file(tmp_path, rows))
    assert "row 3: " in output and reason in output
    assert "read 3 rows" in output and "kept 1 rows" in output and "skipped 1" in output and "rejected 1." in output
    assert set(Specialist.objects.values_list("npi", flat=True)) == {NPI_A}


def test_names_are_cased_as_people_write_them(tmp_path):
    run(nppes_file(tmp_path, [nppes_row(NPI_A, **{"Provider Last Name (Legal Name)": "MCDONALD-O'NEIL"})]))
    assert Specialist.objects.get(npi=NPI_A).last_name == "McDonald-O'Neil"


def test_a_practice_in_montreal_is_flagged_outside_the_us_and_not_placed(tmp_path):
    place = "Provider Business Practice Location Address"
    row = nppes_row(
        NPI_A,
        **{
            "Provider First Line Business Practice Location Address": "1001 RUE SHERBROOKE O",
            f"{place} City Name": "MONTREAL",
            f"{place} State Name": "QC",
            f"{place} Postal Code": "H3A 1G5",
            f"{place} Country Code (If outside U.S.)": "CA",
            f"{place} Telephone Number": "5145550100",
        },
    )
    run(nppes_file(tmp_path, [row]))
    stub = Specialist.objects.get(npi=NPI_A)
    practice = stub.practices.get()
    assert (practice.city, practice.state, practice.zip_code, practice.outside_us) == ("Montreal", "QC", "", True)
    assert practice.point is None
    assert "outside the US (Montreal, QC, CA)" in stub.unpublished_reason
    assert stub.source_records.get().data["country"] == "CA"
