import csv
import datetime
import gzip
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from bench.public_files import CMS_HEADER, cms_row, write_csv
from directory.importers.cms import import_cms, infer_year
from directory.models import (
    Procedure,
    ProcedureVolume,
    RecordSource,
    ReviewStatus,
    SourceRecord,
    Specialist,
    VolumeSource,
)
from tests.factories import ProcedureVolumeFactory, SpecialistFactory, make_npi

pytestmark = pytest.mark.django_db

NPI_A, NPI_B, NPI_C = make_npi(9001), make_npi(9002), make_npi(9003)


def run(path, *args) -> str:
    out = StringIO()
    call_command("import_cms", str(path), *args, stdout=out)
    return out.getvalue()


def cms_file(tmp_path, rows, name="MUP_PHY_R25_P05_V10_D24_Prov_Svc.csv", header=CMS_HEADER):
    return write_csv(tmp_path / name, header, rows)


def cms_volumes(year=2024):
    return {
        (v.specialist.npi, v.procedure): (v.count, v.beneficiaries)
        for v in ProcedureVolume.objects.filter(
            source=VolumeSource.CMS_MEDICARE, period_start__year=year
        ).select_related("specialist")
    }


def test_keeps_only_the_si_joint_and_lumbar_fusion_code_families(tmp_path):
    SpecialistFactory(npi=NPI_A)
    run(cms_file(tmp_path, [cms_row(NPI_A, "27279"), cms_row(NPI_A, "99213"), cms_row(NPI_A, "22633")]))

    assert cms_volumes() == {(NPI_A, Procedure.MIS_SI_FUSION): (14, 12), (NPI_A, Procedure.LUMBAR_FUSION): (14, 12)}


def test_writes_a_calendar_year_period_with_a_medicare_only_note(tmp_path):
    SpecialistFactory(npi=NPI_A)
    run(cms_file(tmp_path, [cms_row(NPI_A, "27096"), cms_row(NPI_A, "G0260")]))

    volume = ProcedureVolume.objects.get()
    assert (volume.period_start, volume.period_end) == (datetime.date(2024, 1, 1), datetime.date(2024, 12, 31))
    assert (volume.count, volume.beneficiaries, volume.is_suppressed) == (28, 24, False)
    assert volume.notes == "Medicare fee-for-service (Part B) only; codes 27096, G0260"


def test_skips_organizations(tmp_path):
    SpecialistFactory(npi=NPI_A)
    output = run(cms_file(tmp_path, [cms_row(NPI_A, "27279", Rndrng_Prvdr_Ent_Cd="O"), cms_row(NPI_A, "27096")]))

    assert cms_volumes() == {(NPI_A, Procedure.SI_INJECTION): (14, 12)}
    assert "skipped 1 organization rows" in output


def test_sums_across_places_of_service_and_the_codes_of_a_family(tmp_path):
    SpecialistFactory(npi=NPI_A)
    rows = [
        cms_row(NPI_A, "27279", Place_Of_Srvc="F", Tot_Srvcs="14", Tot_Benes="12"),
        cms_row(NPI_A, "27279", Place_Of_Srvc="O", Tot_Srvcs="11.5", Tot_Benes="11"),
        cms_row(NPI_A, "27278", Place_Of_Srvc="F", Tot_Srvcs="13", Tot_Benes="13"),
        cms_row(NPI_A, "27280", Place_Of_Srvc="F", Tot_Srvcs="20", Tot_Benes="19"),
    ]
    run(cms_file(tmp_path, rows))

    assert cms_volumes() == {
        (NPI_A, Procedure.MIS_SI_FUSION): (38, 36),
        (NPI_A, Procedure.OPEN_SI_FUSION): (20, 19),
    }
    assert ProcedureVolume.objects.get(procedure=Procedure.MIS_SI_FUSION).notes.endswith("codes 27279, 27278")


def test_matches_header_names_case_insensitively_and_ignores_extra_columns(tmp_path):
    SpecialistFactory(npi=NPI_A)
    header = [name.upper() for name in CMS_HEADER] + ["Rndrng_Prvdr_Gndr"]
    run(cms_file(tmp_path, [[*cms_row(NPI_A, "64625"), "F"]], header=header))

    assert cms_volumes() == {(NPI_A, Procedure.RF_ABLATION): (14, 12)}


def test_a_code_without_a_row_gets_no_count_not_zero(tmp_path):
    specialist = SpecialistFactory(npi=NPI_A)
    run(cms_file(tmp_path, [cms_row(NPI_A, "27096")]))

    assert set(specialist.volumes.values_list("procedure", flat=True)) == {Procedure.SI_INJECTION}
    assert not ProcedureVolume.objects.filter(count=0).exists()
    specialist.refresh_from_db()
    assert specialist.past_year_volume(Procedure.MIS_SI_FUSION, today=datetime.date(2025, 6, 1)) is None


def test_reimporting_the_same_file_changes_nothing(tmp_path):
    SpecialistFactory(npi=NPI_A)
    path = cms_file(tmp_path, [cms_row(NPI_A, "27279"), cms_row(NPI_B, "27096"), cms_row(NPI_C, "22612")])
    run(path)
    first = (cms_volumes(), Specialist.objects.count(), SourceRecord.objects.count())
    output = run(path)

    assert (cms_volumes(), Specialist.objects.count(), SourceRecord.objects.count()) == first
    assert "2 already in the directory, 0 new in the review queue" in output


def test_reimporting_a_year_replaces_exactly_that_years_counts(tmp_path):
    a, b = SpecialistFactory(npi=NPI_A), SpecialistFactory(npi=NPI_B)
    older = ProcedureVolumeFactory(
        specialist=a,
        source=VolumeSource.CMS_MEDICARE,
        period_start=datetime.date(2023, 1, 1),
        period_end=datetime.date(2023, 12, 31),
    )
    self_reported = ProcedureVolumeFactory(specialist=b, period_start=datetime.date(2024, 1, 1))
    run(cms_file(tmp_path, [cms_row(NPI_A, "27279"), cms_row(NPI_B, "27279"), cms_row(NPI_B, "27096")]))
    again = cms_file(tmp_path, [cms_row(NPI_A, "27279", Tot_Srvcs="40", Tot_Benes="30")], name="cms_2024_again.csv")
    run(again, "--replace-year")  # the file drops 2 of the year's 3 counts: the curator says it is the whole year

    assert cms_volumes() == {(NPI_A, Procedure.MIS_SI_FUSION): (40, 30)}
    assert ProcedureVolume.objects.filter(pk__in=[older.pk, self_reported.pk]).count() == 2
    b_record = SourceRecord.objects.get(specialist=b, source=RecordSource.CMS_MEDICARE)
    assert b_record.data == {"years": {}}  # what 2024 said about NPI_B is gone with its counts


def test_source_record_keeps_counts_by_year(tmp_path):
    run(cms_file(tmp_path, [cms_row(NPI_A, "27279", Tot_Srvcs="14")], name="cms_D23.csv"))
    run(cms_file(tmp_path, [cms_row(NPI_A, "27279", Tot_Srvcs="21")], name="cms_D24.csv"))

    years = SourceRecord.objects.get(specialist__npi=NPI_A, source=RecordSource.CMS_MEDICARE).data["years"]
    assert set(years) == {"2024", "2023"}
    assert years["2024"]["procedures"]["mis_si_fusion"] == {"services": 21, "beneficiaries": 12, "codes": ["27279"]}
    assert years["2023"]["procedures"]["mis_si_fusion"]["services"] == 14


def test_new_npi_with_si_joint_rows_becomes_an_unpublished_stub_in_the_review_queue(tmp_path):
    rows = [cms_row(NPI_A, "27279", Rndrng_Prvdr_St2="Suite 400", Rndrng_Prvdr_Type="Neurosurgery")]
    run(cms_file(tmp_path, rows))

    stub = Specialist.objects.get(npi=NPI_A)
    assert (stub.first_name, stub.middle_name, stub.last_name, stub.credentials) == ("Jane", "Q", "Smith", "M.D.")
    assert (stub.is_published, stub.review_status, stub.record_source) == (False, "pending", "cms_medicare")
    assert stub.specialty == "neurosurgery"
    practice = stub.practices.get()
    assert (practice.address_line1, practice.address_line2, practice.city, practice.state, practice.zip_code) == (
        "1200 N State St",
        "Suite 400",
        "Chicago",
        "IL",
        "60611",
    )
    assert practice.latitude == pytest.approx(41.89, abs=0.05) and practice.coordinates_source == "zip_centroid"
    record = stub.source_records.get(source=RecordSource.CMS_MEDICARE)
    assert record.data["years"]["2024"]["name"] == "Jane Q Smith"  # as the file says it
    assert record.data["years"]["2024"]["address"] == "1200 N State St, Suite 400, Chicago, IL 60611"
    assert list(Specialist.objects.awaiting_review()) == [stub]
    # The import's bulk writes are followed by a baseline history entry naming the import.
    (baseline,) = stub.history.all()
    assert baseline.history_change_reason.startswith("Baseline: created by the CMS Medicare import of MUP_PHY_")
    assert practice.history.count() == 1


def test_new_npi_with_lumbar_fusion_or_nerve_blocks_only_is_not_added(tmp_path):
    output = run(cms_file(tmp_path, [cms_row(NPI_A, "22612"), cms_row(NPI_A, "64451")]))

    assert not Specialist.objects.exists()
    assert "1 not in the directory" in output


def test_curated_specialist_keeps_its_fields_and_gets_counts_and_a_source_record(tmp_path):
    curated = SpecialistFactory(npi=NPI_A, first_name="Janet", last_name="Smith-Lee", credentials="MD, FAAOS")
    practice = curated.practices.get()
    run(cms_file(tmp_path, [cms_row(NPI_A, "27279", Rndrng_Prvdr_St1="9 ELSEWHERE RD")]))

    curated.refresh_from_db()
    assert (curated.first_name, curated.last_name, curated.credentials) == ("Janet", "Smith-Lee", "MD, FAAOS")
    assert (curated.review_status, curated.is_published) == ("curated", True)
    assert list(curated.practices.all()) == [practice] and practice.address_line1 != "9 Elsewhere Rd"
    assert cms_volumes() == {(NPI_A, Procedure.MIS_SI_FUSION): (14, 12)}
    assert curated.source_records.get().data["years"]["2024"]["address"].startswith("9 ELSEWHERE RD")


def test_dismissed_npi_stays_dismissed_without_counts(tmp_path):
    dismissed = SpecialistFactory(npi=NPI_A, is_published=False, review_status=ReviewStatus.DISMISSED)
    run(cms_file(tmp_path, [cms_row(NPI_A, "27279")]))

    dismissed.refresh_from_db()
    assert (dismissed.review_status, dismissed.is_published) == ("dismissed", False)
    assert not dismissed.volumes.exists()
    assert Specialist.objects.count() == 1
    assert "2024" in dismissed.source_records.get().data["years"]


@pytest.mark.parametrize("name", ["MUP_PHY_R25_P05_V10_D24_Prov_Svc.csv.gz", "MUP_PHY_R25_P05_V10_D24_Prov_Svc.zip"])
def test_reads_gzip_and_zip_files(tmp_path, name):
    SpecialistFactory(npi=NPI_A)
    run(cms_file(tmp_path, [cms_row(NPI_A, "27279"), cms_row(NPI_A, "99213")], name=name))

    assert cms_volumes() == {(NPI_A, Procedure.MIS_SI_FUSION): (14, 12)}


def test_malformed_row_with_atomic_changes_nothing(tmp_path):
    SpecialistFactory(npi=NPI_A)
    run(cms_file(tmp_path, [cms_row(NPI_A, "27279")]))
    before = cms_volumes()
    rows = [cms_row(NPI_A, "27279", Tot_Srvcs="40"), cms_row(NPI_B, "27096", Tot_Benes="eleven")]

    with pytest.raises(CommandError, match=r"Row 3: 27096 for .*eleven.*Nothing was imported \(--atomic\)"):
        run(cms_file(tmp_path, rows, name="cms_D24_bad.csv"), "--atomic")
    assert cms_volumes() == before
    assert not Specialist.objects.filter(npi=NPI_B).exists()


def test_malformed_rows_are_reported_and_skipped_without_atomic(tmp_path):
    SpecialistFactory(npi=NPI_A)
    rows = [cms_row(NPI_A, "27279"), cms_row("123", "27279"), cms_row(NPI_A, "27096")[:5]]
    output = run(cms_file(tmp_path, rows))

    assert cms_volumes() == {(NPI_A, Procedure.MIS_SI_FUSION): (14, 12)}
    assert "Rejected 2 malformed rows" in output
    assert "row 3: 27279 for 123: NPI '123' is not 10 digits" in output
    assert "row 4: 5 fields, expected 28" in output


def test_every_row_of_an_npi_is_checked_not_only_its_first(tmp_path):
    SpecialistFactory(npi=NPI_A)
    rows = [
        cms_row(NPI_A, "27279"),
        cms_row("123", "27279"),
        cms_row(NPI_A, "27096", Tot_Benes="eleven"),
        cms_row("123", "27096"),
        cms_row(NPI_A, "27280"),
    ]
    output = run(cms_file(tmp_path, rows))

    assert cms_volumes() == {(NPI_A, Procedure.MIS_SI_FUSION): (14, 12), (NPI_A, Procedure.OPEN_SI_FUSION): (14, 12)}
    assert "kept 2 SI-joint" in output
    assert "Rejected 3 malformed rows" in output
    assert "row 3: 27279 for 123: NPI '123' is not 10 digits" in output
    assert f"row 4: 27096 for {NPI_A}: Tot_Benes “eleven” is not a whole number" in output
    assert "row 5: 27096 for 123: NPI '123' is not 10 digits" in output


def test_a_file_that_breaks_part_way_leaves_the_previous_import_intact(tmp_path):
    SpecialistFactory(npi=NPI_A)
    run(cms_file(tmp_path, [cms_row(NPI_A, "27279")]))
    before = cms_volumes()
    rows = [cms_row(make_npi(20000 + n), "27096") for n in range(5000)]
    broken = cms_file(tmp_path, rows, name="cms_D24.csv.gz")
    broken.write_bytes(broken.read_bytes()[: broken.stat().st_size // 2])  # a download cut off half-way

    with pytest.raises(CommandError, match="damaged or truncated"):
        run(broken)
    assert cms_volumes() == before
    assert Specialist.objects.count() == 1


@pytest.mark.parametrize(
    ("name", "year"),
    [
        ("MUP_PHY_R24_P05_V10_D22_Prov_Svc.csv", 2022),
        ("MUP_PHY_R25_P05_V10_D23_Prov_Svc.zip", 2023),
        ("Medicare_Physician_Other_Practitioners_by_Provider_and_Service_2021.csv.gz", 2021),
        ("export.csv", None),
        ("cms_2019_to_2021.csv", None),
    ],
)
def test_infers_the_data_year_from_the_file_name(name, year):
    assert infer_year(name) == year


def test_without_a_year_in_the_name_asks_for_year(tmp_path):
    SpecialistFactory(npi=NPI_A)
    path = cms_file(tmp_path, [cms_row(NPI_A, "27279")], name="export.csv")

    with pytest.raises(CommandError, match=r"Cannot tell the data year from the file name 'export.csv'; pass --year"):
        run(path)
    run(path, "--year", "2023")
    assert cms_volumes(2023) == {(NPI_A, Procedure.MIS_SI_FUSION): (14, 12)}


def test_wrong_file_names_the_missing_columns(tmp_path):
    path = write_csv(tmp_path / "cms_D24.csv", ["NPI", "Code"], [["1", "2"]])

    with pytest.raises(CommandError, match="Missing column\\(s\\): Rndrng_NPI; Rndrng_Prvdr_Last_Org_Name; .*HCPCS_Cd"):
        run(path)


def test_progress_bar_stays_quiet_when_stderr_is_not_a_terminal(tmp_path, capsys):
    SpecialistFactory(npi=NPI_A)
    path = cms_file(tmp_path, [cms_row(NPI_A, "27279")])
    run(path)
    assert capsys.readouterr().err == ""

    import_cms(path, progress=True)  # forced on, as on a terminal
    assert "CMS 2024: 100%" in capsys.readouterr().err


def test_gzip_text_is_read_as_utf8_with_a_bom(tmp_path):
    SpecialistFactory(npi=NPI_A)
    path = tmp_path / "cms_D24.csv.gz"
    text = StringIO()
    csv.writer(text).writerows([CMS_HEADER, cms_row(NPI_A, "27279", Rndrng_Prvdr_City="SAN JOSÉ")])
    path.write_bytes(gzip.compress(("\ufeff" + text.getvalue()).encode()))
    run(path)

    assert cms_volumes() == {(NPI_A, Procedure.MIS_SI_FUSION): (14, 12)}
    record = SourceRecord.objects.get(specialist__npi=NPI_A)
    assert record.data["years"]["2024"]["address"].endswith("SAN JOSÉ, IL 60611")


# --- safe year replacement, layouts, bad cells, names, places outside the US, one import at a time ------


def cms_year_on_file(tmp_path):
    """Import a year with counts for three NPIs; return the file's rows."""
    for npi in (NPI_A, NPI_B, NPI_C):
        SpecialistFactory(npi=npi)
    rows = [cms_row(NPI_A, "27279"), cms_row(NPI_B, "27279"), cms_row(NPI_C, "27096")]
    run(cms_file(tmp_path, rows, name="full_D24.csv"))
    return rows


def test_a_partial_file_that_would_remove_most_of_a_year_is_refused_saying_how_many(tmp_path):
    cms_year_on_file(tmp_path)
    before = cms_volumes()
    partial = cms_file(tmp_path, [cms_row(NPI_A, "27279", Tot_Srvcs="40")], name="partial_D24.csv")

    with pytest.raises(CommandError, match="would remove 2 of the 3 CMS counts of 2024") as refused:
        run(partial)

    assert "--replace-year" in str(refused.value) and "--only-listed-npis" in str(refused.value)
    assert cms_volumes() == before


def test_only_listed_npis_replaces_the_counts_of_the_file_s_npis_and_keeps_the_others(tmp_path):
    cms_year_on_file(tmp_path)
    partial = cms_file(tmp_path, [cms_row(NPI_A, "27096", Tot_Srvcs="40", Tot_Benes="30")], name="partial_D24.csv")

    output = run(partial, "--only-listed-npis")

    assert cms_volumes() == {
        (NPI_A, Procedure.SI_INJECTION): (40, 30),
        (NPI_B, Procedure.MIS_SI_FUSION): (14, 12),
        (NPI_C, Procedure.SI_INJECTION): (14, 12),
    }
    assert "replacing 1 from an earlier import of that year, for the NPIs in this file only" in output
    b_record = SourceRecord.objects.get(specialist__npi=NPI_B, source=RecordSource.CMS_MEDICARE)
    assert "2024" in b_record.data["years"]  # an NPI not in the file keeps what the year said


def test_replace_year_takes_the_file_as_the_whole_year(tmp_path):
    cms_year_on_file(tmp_path)
    run(cms_file(tmp_path, [cms_row(NPI_A, "27279", Tot_Srvcs="40")], name="partial_D24.csv"), "--replace-year")
    assert cms_volumes() == {(NPI_A, Procedure.MIS_SI_FUSION): (40, 12)}


def test_a_file_that_keeps_most_of_the_year_needs_no_option(tmp_path):
    rows = cms_year_on_file(tmp_path)
    run(cms_file(tmp_path, rows[:2], name="again_D24.csv"))  # 1 of 3 goes: not most
    assert set(cms_volumes()) == {(NPI_A, Procedure.MIS_SI_FUSION), (NPI_B, Procedure.MIS_SI_FUSION)}


LEGACY_HEADER = (
    "npi\tnppes_provider_last_org_name\tnppes_provider_first_name\tnppes_entity_code\thcpcs_code\t"
    "line_srvc_cnt\tbene_unique_cnt\n"
)


@pytest.mark.parametrize(
    ("name", "content", "layout"),
    [
        (
            "Medicare_Provider_Util_Payment_PUF_CY2015.txt",
            LEGACY_HEADER + "1000090013\tSMITH\tJANE\tI\t27279\t14\t12\n",
            "2012–2017 CMS layout",
        ),
        (
            "Physician_2016.csv",
            "National Provider Identifier,Last Name/Organization Name of the Provider,HCPCS Code,Number of Services\n"
            "1000090013,SMITH,27279,14\n",
            "data.cms.gov export with column titles",
        ),
    ],
)
def test_legacy_layouts_are_refused_naming_the_layout_and_the_current_one(tmp_path, name, content, layout):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(CommandError, match=layout) as refused:
        run(path, "--year", "2016")
    assert "Rndrng_" in str(refused.value) and "Missing column" not in str(refused.value)


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"Tot_Srvcs": "nan"}, "Tot_Srvcs “nan” is not a number"),
        ({"Tot_Srvcs": "inf"}, "Tot_Srvcs “inf” is not a number"),
        ({"Tot_Srvcs": "1e400"}, "Tot_Srvcs “1e400” is not a number"),
        ({"Tot_Srvcs": "-3"}, "Tot_Srvcs “-3” is negative"),
        ({"Tot_Benes": "99999999999999999999"}, "larger than a count can be"),
        ({"Tot_Srvcs": "3000000000"}, "larger than a count can be"),
        ({"Tot_Benes": " "}, "is not a whole number"),
        ({"Rndrng_Prvdr_Last_Org_Name": "SMI\x00TH"}, "Rndrng_Prvdr_Last_Org_Name: holds a NUL byte"),
    ],
)
def test_a_bad_cell_rejects_its_row_and_the_good_rows_import(tmp_path, values, reason):
    SpecialistFactory(npi=NPI_A)
    rows = [
        cms_row(NPI_A, "27279"),
        cms_row(NPI_B, "27279", **values),
        cms_row(NPI_A, "99213"),
        cms_row(NPI_A, "27096"),
    ]
    output = run(cms_file(tmp_path, rows))

    assert "row 3: " in output and reason in output
    assert "read 4 rows" in output and "kept 2" in output and "skipped 1" in output and "rejected 1." in output
    assert set(cms_volumes()) == {(NPI_A, Procedure.MIS_SI_FUSION), (NPI_A, Procedure.SI_INJECTION)}
    assert not Specialist.objects.filter(npi=NPI_B).exists()


def test_a_cell_that_is_not_utf8_rejects_its_row_only(tmp_path):
    SpecialistFactory(npi=NPI_A)
    path = cms_file(tmp_path, [cms_row(NPI_A, "27279"), cms_row(NPI_B, "27279", Rndrng_Prvdr_Last_Org_Name="XX")])
    path.write_bytes(path.read_bytes().replace(b",XX,", b",Mu\xf1oz,"))
    output = run(path)
    assert "row 3: Rndrng_Prvdr_Last_Org_Name: not UTF-8 text" in output
    assert set(cms_volumes()) == {(NPI_A, Procedure.MIS_SI_FUSION)}


def test_atomic_turns_a_bad_cell_into_a_refusal_that_changes_nothing(tmp_path):
    SpecialistFactory(npi=NPI_A)
    rows = [cms_row(NPI_A, "27279"), cms_row(NPI_A, "27096", Tot_Srvcs="nan")]
    with pytest.raises(CommandError, match="Row 3: 27096 for .*Tot_Srvcs “nan” is not a number"):
        run(cms_file(tmp_path, rows), "--atomic")
    assert not cms_volumes()


def test_a_runaway_quote_refuses_the_file_with_the_row_where_it_starts(tmp_path):
    SpecialistFactory(npi=NPI_A)
    plain = {"Rndrng_Prvdr_RUCA_Desc": "Metro", "HCPCS_Desc": "SI"}  # no quoted value after it to close it
    path = cms_file(tmp_path, [cms_row(NPI_A, "27279", **plain)] + [cms_row(NPI_A, "27096", **plain)] * 50)
    lines = path.read_text().splitlines(keepends=True)
    lines[2] = lines[2].replace("Chicago", '"Chicago', 1)
    path.write_text("".join(lines))
    with pytest.raises(CommandError, match="Row 3 starts a quoted value that runs on"):
        run(path)
    assert not cms_volumes()


def test_stubs_get_cased_names_and_the_right_specialty(tmp_path):
    rows = [
        cms_row(NPI_A, "27279", Rndrng_Prvdr_Last_Org_Name="O'DONNELL", Rndrng_Prvdr_First_Name="MARY-KATE"),
        cms_row(NPI_B, "27279", Rndrng_Prvdr_Last_Org_Name="VAN DER BERG", Rndrng_Prvdr_Type="Orthopedic Surgery"),
    ]
    run(cms_file(tmp_path, rows))
    a, b = Specialist.objects.get(npi=NPI_A), Specialist.objects.get(npi=NPI_B)
    assert (a.first_name, a.last_name, a.credentials) == ("Mary-Kate", "O'Donnell", "M.D.")
    assert (b.last_name, b.specialty) == ("van der Berg", "orthopaedic_spine")


def test_a_practice_outside_the_us_is_flagged_and_kept_out_of_the_search(tmp_path):
    row = cms_row(
        NPI_A,
        "27279",
        Rndrng_Prvdr_St1="1001 RUE SHERBROOKE O",
        Rndrng_Prvdr_City="MONTREAL",
        Rndrng_Prvdr_State_Abrvtn="QC",
        Rndrng_Prvdr_Zip5="",
        Rndrng_Prvdr_Cntry="CA",
    )
    run(cms_file(tmp_path, [row]))
    stub = Specialist.objects.get(npi=NPI_A)
    practice = stub.practices.get()
    assert practice.outside_us and practice.point is None and not stub.is_published
    assert stub.unpublished_reason == "Practice address outside the US (Montreal, QC, CA): kept out of the search"
    assert any("outside the US" in hint for hint in stub.data_quality_hints())
