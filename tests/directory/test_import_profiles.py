import csv
import datetime
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from directory.csvsafe import neutralise_cell, restore_cell
from directory.importers.profiles import (
    COLUMNS,
    ProfileFileError,
    import_profiles,
    parse_trainings,
    profiles_for_export,
    write_profiles_csv,
)
from directory.importers.rows import (
    parse_bool,
    parse_choice,
    parse_count,
    parse_date,
    parse_phone,
    parse_state,
    split_list,
)
from directory.models import (
    Affiliation,
    Practice,
    Procedure,
    ProcedureVolume,
    RecordSource,
    Specialist,
    Specialty,
    Training,
    VolumeSource,
)
from tests.factories import (
    PracticeFactory,
    ProcedureVolumeFactory,
    SpecialistFactory,
    TrainingFactory,
    UserFactory,
    make_npi,
)


def profile(**overrides) -> dict:
    """Return one good profiles-CSV row as a dict; override any cell."""
    row = {
        "npi": make_npi(1),
        "first_name": "Ada",
        "last_name": "Okafor",
        "credentials": "MD",
        "specialty": "orthopaedic_spine",
        "practice_name": "Demo Spine Center",
        "address_line1": "100 Demo Avenue",
        "address_line2": "Suite 5",
        "city": "Chicago",
        "state": "IL",
        "zip": "60611",
        "phone": "312-555-0100",
        "website": "https://demo.example.org",
        "accepting_new_patients": "yes",
        "telehealth": "no",
        "languages": "English; Spanish",
        "offers_diagnostic_si_injection": "yes",
        "offers_therapeutic_si_injection": "true",
        "offers_rf_ablation": "0",
        "offers_conservative_care": "1",
        "offers_mis_si_fusion": "YES",
        "offers_open_si_fusion": "no",
        "offers_revision_surgery": "",
        "evaluates_si_in_lumbar_workup": "yes",
        "treats_post_lumbar_fusion": "false",
        "si_training": "MIS SI-joint fusion course (2023); Cadaver lab (2021)",
        "mis_si_fusion_count": "24",
        "open_si_fusion_count": "",
        "si_injection_count": "120",
        "rf_ablation_count": "0",
        "lumbar_fusion_count": "",
        "volume_period_start": "2025-01-01",
        "volume_period_end": "2025-12-31",
        "volume_source": "self_reported",
        "verified": "yes",
        "published": "yes",
    }
    return {**row, **overrides}


def csv_text(*rows, columns=COLUMNS) -> str:
    lines = [",".join(columns)]
    for row in rows:
        lines.append(",".join(_quote(row.get(column, "")) for column in columns))
    return "\n".join(lines) + "\n"


def _quote(value: str) -> str:
    return f'"{value}"' if any(char in value for char in ',"\n') else value


def run_import(text, **options):
    return import_profiles(io.StringIO(text), **options)


def database_state():
    """Return a comparable snapshot of everything an import can write."""
    return {
        "specialists": list(Specialist.objects.order_by("pk").values()),
        "practices": list(Practice.objects.order_by("pk").values()),
        "affiliations": list(Affiliation.objects.order_by("pk").values()),
        "trainings": list(Training.objects.order_by("pk").values()),
        "volumes": list(ProcedureVolume.objects.order_by("pk").values()),
        "insurance": list(Practice.insurance.through.objects.order_by("pk").values()),
        "history": Specialist.history.count() + Practice.history.count() + ProcedureVolume.history.count(),
    }


# --- row parsers (no database) -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("yes", True),
        ("YES", True),
        ("true", True),
        ("1", True),
        ("no", False),
        ("False", False),
        ("0", False),
        ("", False),
    ],
)
def test_parse_bool_accepts_yes_no_words(raw, expected):
    assert parse_bool(raw) is expected


@pytest.mark.parametrize("raw", ["maybe", "y", "2", "ja"])
def test_parse_bool_rejects_other_words(raw):
    with pytest.raises(ValueError, match="not yes/no"):
        parse_bool(raw)


@pytest.mark.parametrize(("raw", "expected"), [("0", 0), (" 12 ", 12), ("", None)])
def test_parse_count(raw, expected):
    assert parse_count(raw) == expected


@pytest.mark.parametrize(("raw", "message"), [("-1", "negative"), ("1.5", "whole number"), ("ten", "whole number")])
def test_parse_count_rejects(raw, message):
    with pytest.raises(ValueError, match=message):
        parse_count(raw)


def test_parse_date_is_iso_only():
    assert parse_date("2025-12-31") == datetime.date(2025, 12, 31)
    assert parse_date("") is None
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_date("12/31/2025")


@pytest.mark.parametrize("raw", ["pain_medicine", "Pain medicine", "PAIN_MEDICINE"])
def test_parse_choice_takes_value_or_label(raw):
    assert parse_choice(raw, Specialty) == Specialty.PAIN_MEDICINE


def test_split_list_and_trainings():
    assert split_list(" English ;; Spanish; ") == ["English", "Spanish"]
    assert parse_trainings("MIS course (2023); Lab") == [("MIS course", 2023), ("Lab", None)]


# --- importing ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_good_file_creates_specialists_with_practice_training_and_counts():
    curator = UserFactory()
    second = profile(
        npi=make_npi(2), first_name="Ben", practice_name="Demo Pain Clinic", zip="10001", city="", state=""
    )
    result = run_import(csv_text(profile(), second), user=curator)

    assert (result.created, result.updated, result.unchanged, result.rejected) == (2, 0, 0, 0)
    ada = Specialist.objects.get(npi=make_npi(1))
    assert ada.display_name == "Ada Okafor, MD"
    assert ada.record_source == RecordSource.PROFILE_IMPORT
    assert ada.languages == "English; Spanish"
    assert ada.services == [
        "offers_diagnostic_si_injection",
        "offers_therapeutic_si_injection",
        "offers_conservative_care",
        "offers_mis_si_fusion",
        "evaluates_si_in_lumbar_workup",
    ]
    assert ada.is_published and ada.verified_at is not None and ada.verified_by == curator
    practice = ada.practices.get()
    assert (practice.address_line2, practice.zip_code, practice.phone) == ("Suite 5", "60611", "312-555-0100")
    assert practice.point is not None
    assert sorted((t.course, t.year) for t in ada.trainings.all()) == [
        ("Cadaver lab", 2021),
        ("MIS SI-joint fusion course", 2023),
    ]
    counts = {v.procedure: v.count for v in ada.volumes.all()}
    assert counts == {Procedure.MIS_SI_FUSION: 24, Procedure.SI_INJECTION: 120, Procedure.RF_ABLATION: 0}
    ben_practice = Specialist.objects.get(npi=make_npi(2)).practices.get()
    assert (ben_practice.city, ben_practice.state) == ("New York", "NY")  # blank city/state come from the ZIP


@pytest.mark.django_db
def test_blank_count_writes_no_row_and_never_a_zero():
    run_import(csv_text(profile(mis_si_fusion_count="", si_injection_count="", rf_ablation_count="")))
    assert not ProcedureVolume.objects.exists()


BAD_VALUES = [
    ("npi", "1234567890", "wrong check digit"),
    ("npi", "12345", "exactly 10 digits"),
    ("npi", "", "required"),
    ("zip", "6061", "5 digits"),
    ("zip", "00000", "No such US ZIP: 00000"),
    ("mis_si_fusion_count", "-3", "negative"),
    ("si_injection_count", "lots", "not a whole number"),
    ("volume_period_start", "2025-13-01", "YYYY-MM-DD"),
    ("volume_period_end", "2024-06-30", "cannot end before it starts"),
    ("volume_source", "blog", "not one of"),
    ("specialty", "chiropractic", "not one of"),
    ("published", "maybe", "not yes/no"),
    ("offers_mis_si_fusion", "sometimes", "not yes/no"),
    ("website", "not a url", "not a web address"),
    ("website", "javascript:alert(1)", "starting with https://"),
    ("website", "ftp://files.example.org", "starting with https://"),
    ("state", "Illinois", "not a US state or territory code"),
    ("state", "ZZ", "not a US state or territory code"),
    ("phone", "555", "not a phone number"),
    ("phone", "call us", "not a phone number"),
    ("mis_si_fusion_count", "99999999999", "too large"),
    ("credentials", "M" * 101, "at most 100 characters"),
    ("practice_name", "", "required when the row names a practice"),
    ("si_training", "Ancient course (1900)", "1900 is not a plausible year"),
    ("si_training", "Future course (2999)", "2999 is not a plausible year"),
    ("first_name", "(clear)", "a specialist always has a first name"),
    ("last_name", "Oka\x00for", "holds a NUL byte"),
    ("offers_mis_si_fusion", "(clear)", "write no instead"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("column", "value", "reason"), BAD_VALUES)
def test_bad_row_is_rejected_with_row_column_and_reason_while_good_rows_import(column, value, reason):
    bad = profile(npi=make_npi(2), **{column: value}) if column != "npi" else profile(npi=value)
    good = profile(npi=make_npi(3), first_name="Good")
    result = run_import(csv_text(profile(npi=make_npi(1)), bad, good))

    assert (result.created, result.rejected) == (2, 1)
    [error] = result.errors
    assert (error.row, error.column) == (3, column)
    assert reason in error.reason
    assert Specialist.objects.count() == 2
    assert Specialist.objects.filter(first_name="Good").exists()


@pytest.mark.django_db
def test_rejected_row_writes_nothing_even_after_the_specialist_was_saved():
    # The bad training year is found only when the Training row is validated, after the specialist and
    # practice were written: the row's savepoint must take them back.
    result = run_import(csv_text(profile(si_training="Course (1900)")))
    assert result.rejected == 1
    assert not Specialist.objects.exists() and not Practice.objects.exists()


@pytest.mark.django_db
def test_counts_need_a_period_and_source():
    result = run_import(csv_text(profile(volume_period_start="", volume_source="")))
    assert {(e.column, e.reason) for e in result.errors} == {
        ("volume_period_start", "required when the row gives a count."),
        ("volume_source", "required when the row gives a count."),
    }


@pytest.mark.django_db
def test_repeated_npi_in_one_file_is_rejected():
    result = run_import(csv_text(profile(), profile(first_name="Twin")))
    assert result.created == 1
    [error] = result.errors
    assert (error.row, error.column) == (3, "npi")
    assert "already appears on row 2" in error.reason


@pytest.mark.django_db
def test_new_specialist_needs_names_and_specialty():
    columns = ["npi", "published"]
    result = run_import(csv_text({"npi": make_npi(5), "published": "yes"}, columns=columns))
    assert {e.column for e in result.errors} == {"first_name", "last_name", "specialty"}


@pytest.mark.django_db
def test_atomic_import_with_a_bad_row_writes_nothing():
    result = run_import(csv_text(profile(), profile(npi=make_npi(2), zip="99999x")), atomic=True)
    assert (result.created, result.rejected, result.written) == (1, 1, False)
    assert not Specialist.objects.exists()
    assert not Practice.objects.exists()
    assert not Training.objects.exists()


@pytest.mark.django_db
def test_reimport_changes_nothing_and_creates_no_duplicates():
    text = csv_text(profile(), profile(npi=make_npi(2), first_name="Ben", practice_name="Demo Pain Clinic"))
    run_import(text)
    before = database_state()

    result = run_import(text)

    assert (result.created, result.updated, result.unchanged, result.rejected) == (0, 0, 2, 0)
    assert database_state() == before


@pytest.mark.django_db
def test_reimport_keeps_the_original_verification_time():
    run_import(csv_text(profile()))
    first_verified_at = Specialist.objects.get().verified_at
    result = run_import(csv_text(profile(credentials="DO")))
    specialist = Specialist.objects.get()
    assert result.outcomes[0].changes == ["credentials"]
    assert specialist.verified_at == first_verified_at and specialist.credentials == "DO"


@pytest.mark.django_db
def test_update_reports_changed_columns_and_replaces_the_primary_practice():
    run_import(csv_text(profile()))
    old_practice = Practice.objects.get()
    result = run_import(
        csv_text(profile(practice_name="Demo Moved Clinic", verified="no", si_training="Cadaver lab (2021)"))
    )
    outcome = result.outcomes[0]
    assert outcome.action == "updated"
    assert outcome.changes == ["verified", "practice", "si_training"]
    specialist = Specialist.objects.get()
    assert specialist.verified_at is None
    assert [p.name for p in specialist.practices.all()] == ["Demo Moved Clinic"]
    assert Practice.objects.filter(pk=old_practice.pk).exists()  # the practice stays; only the link moved
    assert [t.course for t in specialist.trainings.all()] == ["Cadaver lab"]


@pytest.mark.django_db
def test_columns_left_out_of_the_file_leave_fields_alone():
    run_import(csv_text(profile()))
    result = run_import(csv_text({"npi": make_npi(1), "published": "no"}, columns=["npi", "published"]))
    specialist = Specialist.objects.get()
    assert result.outcomes[0].changes == ["published"]
    assert not specialist.is_published
    assert specialist.first_name == "Ada" and specialist.trainings.count() == 2 and specialist.practices.count() == 1


@pytest.mark.django_db
def test_dry_run_reports_but_writes_nothing():
    result = run_import(csv_text(profile(), profile(npi=make_npi(2), zip="00000")), dry_run=True)
    assert (result.created, result.rejected) == (1, 1)
    assert not Specialist.objects.exists() and not Practice.objects.exists()


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("npi,first_name,shoe_size", "Unknown column: shoe_size"),
        ("npi,first_name,first_name", "named twice: first_name"),
        ("first_name,last_name", "no npi column"),
        ("", "The file is empty"),
    ],
)
@pytest.mark.django_db
def test_file_level_problems_are_reported_clearly(header, message):
    with pytest.raises(ProfileFileError, match=message):
        run_import(header + "\n" if header else "")


@pytest.mark.django_db
def test_header_is_case_and_space_insensitive_and_a_bom_is_fine(tmp_path):
    path = tmp_path / "profiles.csv"
    path.write_text(csv_text(profile()).replace("npi,", " NPI ,", 1), encoding="utf-8-sig")
    out = io.StringIO()
    call_command("import_profiles", str(path), stdout=out)
    assert "created 1, updated 0, unchanged 0, rejected 0" in out.getvalue()


# --- export and round trip ---------------------------------------------------------------------------


def export_text(queryset=None) -> str:
    out = io.StringIO()
    write_profiles_csv(profiles_for_export(queryset or Specialist.objects.all()), out)
    return out.getvalue()


@pytest.mark.django_db
def test_export_then_import_changes_nothing():
    verifier = UserFactory()
    clinic = PracticeFactory(name="Demo Shared Clinic, LLC", address_line2='Building "B"')
    first = SpecialistFactory(
        practices=[clinic, PracticeFactory()],
        languages="English;Spanish",
        offers_mis_si_fusion=True,
        verified_at=datetime.datetime(2025, 3, 1, tzinfo=datetime.UTC),
        verified_by=verifier,
    )
    TrainingFactory(specialist=first, course="SI-Bone course", year=2022)
    TrainingFactory(specialist=first, course="Cadaver lab", year=None)
    ProcedureVolumeFactory(specialist=first, count=12)
    ProcedureVolumeFactory(specialist=first, procedure=Procedure.SI_INJECTION, count=80)
    ProcedureVolumeFactory(  # an older period stays in the database and out of the row
        specialist=first, period_start=datetime.date(2023, 1, 1), period_end=datetime.date(2023, 12, 31)
    )
    ProcedureVolumeFactory(
        specialist=first,
        procedure=Procedure.RF_ABLATION,
        count=None,
        is_suppressed=True,
        source=VolumeSource.CMS_MEDICARE,
    )
    SpecialistFactory(practices=[clinic], specialty=Specialty.PMR, is_published=False)
    SpecialistFactory(practices=[], credentials="")
    SpecialistFactory(npi=None)  # cannot be matched by NPI, so not exported
    before = database_state()

    text = export_text()
    result = run_import(text)

    assert text.splitlines()[0] == ",".join(COLUMNS)
    assert len(text.splitlines()) == 1 + 3
    assert (result.created, result.updated, result.unchanged, result.rejected) == (0, 0, 3, 0)
    assert database_state() == before


@pytest.mark.django_db
def test_export_is_the_import_format():
    run_import(csv_text(profile()))
    exported = export_text().splitlines()[1].split(",")
    row = dict(zip(COLUMNS, exported, strict=True))
    assert row["npi"] == make_npi(1)
    assert row["si_training"] == "MIS SI-joint fusion course (2023); Cadaver lab (2021)"
    assert (row["mis_si_fusion_count"], row["open_si_fusion_count"], row["rf_ablation_count"]) == ("24", "", "0")
    assert (row["offers_rf_ablation"], row["offers_mis_si_fusion"], row["verified"]) == ("no", "yes", "yes")


# --- the command -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_command_prints_summary_and_rejected_rows(tmp_path):
    path = tmp_path / "profiles.csv"
    path.write_text(csv_text(profile(), profile(npi="1234567890")))
    out = io.StringIO()
    call_command("import_profiles", str(path), stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "created 1, updated 0, unchanged 0, rejected 1"
    assert lines[-3:] == [
        "Rejected (1):",
        f"  row 3 (1234567890, {profile()['first_name']} {profile()['last_name']})",
        "    npi: 1234567890 is not a valid NPI (wrong check digit).",
    ]


@pytest.mark.django_db
def test_command_dry_run_writes_nothing(tmp_path):
    path = tmp_path / "profiles.csv"
    path.write_text(csv_text(profile()))
    out = io.StringIO()
    call_command("import_profiles", str(path), "--dry-run", stdout=out)
    assert "created 1" in out.getvalue() and "Dry run: nothing was written." in out.getvalue()
    assert not Specialist.objects.exists()


@pytest.mark.django_db
def test_command_atomic_fails_and_writes_nothing(tmp_path):
    path = tmp_path / "profiles.csv"
    path.write_text(csv_text(profile(), profile(npi=make_npi(2), specialty="astrology")))
    with pytest.raises(CommandError, match="1 rejected row"):
        call_command("import_profiles", str(path), "--atomic", stdout=io.StringIO())
    assert not Specialist.objects.exists()


@pytest.mark.django_db
def test_command_reports_unknown_columns_and_unreadable_files(tmp_path):
    path = tmp_path / "profiles.csv"
    path.write_text("npi,favourite_colour\n")
    with pytest.raises(CommandError, match="Unknown column: favourite_colour"):
        call_command("import_profiles", str(path), stdout=io.StringIO())
    path.write_bytes(b"npi,first_name\n1234567893,Jos\xe9\n")
    with pytest.raises(CommandError, match="not UTF-8"):
        call_command("import_profiles", str(path), stdout=io.StringIO())
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_profiles", str(tmp_path / "missing.csv"), stdout=io.StringIO())


@pytest.mark.django_db
def test_a_changed_count_is_no_longer_verified_and_an_unchanged_one_stays_verified():
    run_import(csv_text(profile()))
    ProcedureVolume.objects.update(verified=True)
    result = run_import(csv_text(profile(mis_si_fusion_count="25")))
    assert result.outcomes[0].changes == ["mis_si_fusion_count"]
    verified = dict(ProcedureVolume.objects.values_list("procedure", "verified"))
    assert verified == {Procedure.MIS_SI_FUSION: False, Procedure.SI_INJECTION: True, Procedure.RF_ABLATION: True}


# --- blanks keep, (clear) empties, old → new, one pass, history ---------------------------------------


def blank_row(**cells) -> dict:
    """Return a row for the NPI of profile() with every other cell blank."""
    return {column: "" for column in COLUMNS} | {"npi": make_npi(1)} | cells


@pytest.mark.django_db
def test_a_profile_with_every_field_set_survives_a_reimport_of_a_row_with_blanks():
    full = profile(
        offers_revision_surgery="yes",
        offers_rf_ablation="yes",
        telehealth="yes",
        open_si_fusion_count="3",
        lumbar_fusion_count="40",
        insurance="Medicare; aetna",
        insurance_confirmed="2025-11-03",
    )
    assert all(full[column] for column in COLUMNS)  # every cell of the first import has a value
    run_import(csv_text(full), user=UserFactory())
    before = database_state()

    result = run_import(csv_text(blank_row()))

    assert (result.unchanged, result.updated, result.rejected) == (1, 0, 0)
    assert database_state() == before
    specialist = Specialist.objects.get()
    assert specialist.offers_mis_si_fusion and specialist.verified_at is not None
    assert specialist.trainings.count() == 2 and specialist.volumes.count() == 5
    assert [entry.code for entry in Practice.objects.get().insurance.all()] == ["medicare", "aetna"]


@pytest.mark.django_db
def test_a_blank_practice_cell_keeps_the_practice_value_and_a_given_one_updates_it():
    run_import(csv_text(profile()))
    result = run_import(csv_text(blank_row(phone="(312) 555-0142")))
    practice = Practice.objects.get()
    assert (practice.name, practice.address_line1, practice.phone) == (
        "Demo Spine Center",
        "100 Demo Avenue",
        "312-555-0142",
    )
    assert [str(change) for change in result.outcomes[0].diffs] == ["phone: 312-555-0100 → 312-555-0142"]


@pytest.mark.django_db
def test_the_clear_marker_empties_a_field_and_says_so():
    run_import(csv_text(profile()))
    result = run_import(
        csv_text(
            blank_row(
                credentials="(clear)",
                website="(CLEAR)",
                languages="(clear)",
                si_training="(clear)",
                address_line2="(clear)",
                mis_si_fusion_count="(clear)",
                volume_period_start="2025-01-01",
                volume_period_end="2025-12-31",
                volume_source="self_reported",
            )
        )
    )
    outcome = result.outcomes[0]
    assert outcome.action == "updated"
    specialist = Specialist.objects.get()
    assert (specialist.credentials, specialist.website, specialist.languages) == ("", "", "")
    assert not specialist.trainings.exists()
    assert specialist.practices.get().address_line2 == ""
    assert not specialist.volumes.filter(procedure=Procedure.MIS_SI_FUSION).exists()
    assert specialist.volumes.filter(procedure=Procedure.SI_INJECTION).exists()  # a blank count stays
    assert {str(change) for change in outcome.diffs} == {
        "credentials: MD → (blank)",
        "website: https://demo.example.org → (blank)",
        "languages: English; Spanish → (blank)",
        "address_line2: Suite 5 → (blank)",
        "si_training: MIS SI-joint fusion course (2023); Cadaver lab (2021) → (blank)",
        "mis_si_fusion_count (2025-01-01 to 2025-12-31, self_reported): 24 → (blank)",
    }


@pytest.mark.django_db
def test_every_error_of_a_file_is_reported_in_one_pass_in_plain_sentences():
    text = csv_text(
        profile(state="ZZ", phone="555", website="javascript:alert(1)", si_training="Course (1900)", zip="0000"),
        profile(npi="1234567890", specialty="astrology"),
    )
    result = run_import(text)
    assert {(error.row, error.column) for error in result.errors} == {
        (2, "state"),
        (2, "phone"),
        (2, "website"),
        (2, "si_training"),
        (2, "zip"),
        (3, "npi"),
        (3, "specialty"),
    }
    assert not any("_" in error.reason.split(":")[0] and "range" in error.reason for error in result.errors)
    assert not Specialist.objects.exists()


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("312-555-0142", "312-555-0142"),
        ("(312) 555-0142", "312-555-0142"),
        ("+1 312 555 0142", "312-555-0142"),
        ("3125550142", "312-555-0142"),
        ("312-555-0142 x12", "312-555-0142 ext. 12"),
        ("+44 20 7946 0958", "+44 20 7946 0958"),
    ],
)
def test_phone_numbers_are_stored_in_one_format(raw, stored):
    assert parse_phone(raw) == stored


@pytest.mark.parametrize("raw", ["555", "555-0142", "000-000-0000", "phone", "312 555 01"])
def test_phone_numbers_that_are_not_numbers_are_refused(raw):
    with pytest.raises(ValueError, match="not a phone number"):
        parse_phone(raw)


@pytest.mark.parametrize(("raw", "code"), [("il", "IL"), ("DC", "DC"), ("pr", "PR"), ("GU", "GU"), ("VI", "VI")])
def test_states_and_territories_are_accepted(raw, code):
    assert parse_state(raw) == code


@pytest.mark.parametrize("raw", ["ZZ", "QC", "AE", "Illinois", ""])
def test_other_state_codes_are_refused(raw):
    with pytest.raises(ValueError, match="not a US state"):
        parse_state(raw)


@pytest.mark.django_db
def test_every_change_is_in_the_history_with_the_import_as_the_reason(tmp_path):
    curator = UserFactory()
    run_import(csv_text(profile()), user=curator)
    training_history = Training.history.count()
    result = run_import(
        csv_text(
            blank_row(
                credentials="DO",
                phone="312-555-0142",
                mis_si_fusion_count="30",
                volume_period_start="2025-01-01",
                volume_period_end="2025-12-31",
                volume_source="self_reported",
            )
        ),
        user=curator,
    )
    assert result.updated == 1
    latest = Specialist.history.latest()
    assert (latest.credentials, latest.history_change_reason, latest.history_user) == (
        "DO",
        "Profiles CSV import, row 2",
        curator,
    )
    assert Practice.history.latest().history_change_reason == "Profiles CSV import, row 2"
    assert ProcedureVolume.history.latest().history_change_reason == "Profiles CSV import, row 2"
    assert Training.history.count() == training_history  # the training did not change: no entry

    path = tmp_path / "curated.csv"
    path.write_text(csv_text(blank_row(credentials="MD")))
    call_command("import_profiles", str(path), stdout=io.StringIO())
    assert Specialist.history.latest().history_change_reason == "Profiles CSV import (curated.csv), row 2"


@pytest.mark.django_db
def test_dry_run_lists_every_change_old_to_new_grouped_with_counts(tmp_path):
    run_import(csv_text(profile(), profile(npi=make_npi(2), first_name="Ben")))
    path = tmp_path / "profiles.csv"
    path.write_text(
        csv_text(
            blank_row(credentials="DO", published="no"),
            blank_row(npi=make_npi(2)),
            profile(npi=make_npi(3), first_name="Cy"),
            profile(npi=make_npi(4), state="ZZ"),
        )
    )
    out = io.StringIO()
    call_command("import_profiles", str(path), "--dry-run", stdout=out)
    text = out.getvalue()
    assert text.splitlines()[0] == "created 1, updated 1, unchanged 1, rejected 1"
    for expected in [
        "Created (1):\n  row 4",
        "    first_name: (blank) → Cy\n",
        "Updated (1):\n  row 2",
        "    credentials: MD → DO\n    published: yes → no\n",
        "Unchanged (1):\n  row 3",
        "Rejected (1):\n  row 5",
        "    state: “ZZ” is not a US state or territory code",
        "Dry run: nothing was written.",
    ]:
        assert expected in text
    assert Specialist.objects.get(npi=make_npi(1)).credentials == "MD"


# --- formula cells -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ['=HYPERLINK("http://x")', "+1", "-2+3+cmd|' /C calc'!A0", "@SUM(A1)", "\tx", "\rx", "＝1", "＋1", "－1", "＠x"],
)
def test_formula_cells_are_neutralised_and_restored(text):
    assert neutralise_cell(text) == "'" + text
    assert restore_cell(neutralise_cell(text)) == text


@pytest.mark.parametrize("text", ["Ada", "", "'quoted", "1234567893", "O'Donnell"])
def test_ordinary_cells_are_left_alone(text):
    assert neutralise_cell(text) == text == restore_cell(text)


@pytest.mark.django_db
def test_profile_export_neutralises_formulas_and_imports_back_unchanged():
    SpecialistFactory(
        first_name='=HYPERLINK("http://evil.example")', last_name="@SUM(A1)", credentials="-2+3+cmd|' /C calc'!A0"
    )
    before = database_state()
    text = export_text()
    row = next(csv.DictReader(io.StringIO(text)))
    assert (row["first_name"][0], row["last_name"][0], row["credentials"][0]) == ("'", "'", "'")
    assert run_import(text).unchanged == 1
    assert database_state() == before


@pytest.mark.django_db
def test_admin_preview_shows_old_to_new_grouped_with_counts(curator_client):
    run_import(csv_text(profile()))
    text = csv_text(
        blank_row(credentials="DO"), profile(npi=make_npi(2), first_name="Ben"), profile(npi=make_npi(3), state="ZZ")
    )
    response = curator_client.post(
        reverse("admin:directory_specialist_import"), {"file": SimpleUploadedFile("p.csv", text.encode())}
    )
    assert response.status_code == 200
    page = response.text
    for expected in [
        "Created (1)",
        "Updated (1)",
        "Unchanged (0)",
        "Rejected (1)",
        "<code>credentials</code>: MD → DO",
    ]:
        assert expected in page
    assert "<code>first_name</code>: (blank) → Ben" in page
    assert "is not a US state or territory code" in page
    assert Specialist.objects.get(npi=make_npi(1)).credentials == "MD"


# --- bulk writes: the number of queries does not grow with the file -------------------------------------


def profiles_file(count: int, **overrides) -> str:
    """Return `count` good rows, two specialists per practice."""
    return csv_text(
        *(
            profile(npi=make_npi(n), last_name=f"Okafor-{n}", practice_name=f"Demo Clinic {n // 2}", **overrides)
            for n in range(1, count + 1)
        )
    )


def queries_of_import(text, **options) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as context:
        run_import(text, **options)
    return len(context.captured_queries)


@pytest.mark.django_db
def test_an_import_takes_a_few_queries_per_model_not_per_row():
    # Row by row, an import took about 27 queries per row; in bulk, a query per model and batch (SQLite's
    # limit on query parameters splits the batches).
    assert queries_of_import(profiles_file(80)) < 40
    assert Specialist.objects.count() == 80 and Practice.objects.count() == 41
    # Unchanged: only the loading queries, and nothing written.
    before = database_state()
    assert queries_of_import(profiles_file(80)) <= 8
    assert database_state() == before
    # Every row changed: still no query per row.
    assert queries_of_import(profiles_file(80, credentials="DO", mis_si_fusion_count="25")) < 40
    assert set(Specialist.objects.values_list("credentials", flat=True)) == {"DO"}


@pytest.mark.django_db
def test_bulk_writes_keep_one_history_entry_per_object_with_its_row_and_user():
    curator = UserFactory()
    run_import(profiles_file(3), user=curator)
    for n in (1, 2, 3):
        specialist = Specialist.objects.get(npi=make_npi(n))
        [entry] = specialist.history.all()
        assert (entry.history_type, entry.history_change_reason, entry.history_user) == (
            "+",
            f"Profiles CSV import, row {n + 1}",
            curator,
        )
        assert {t.history_change_reason for t in Training.history.filter(specialist_id=specialist.pk)} == {
            f"Profiles CSV import, row {n + 1}"
        }
        assert ProcedureVolume.history.filter(specialist_id=specialist.pk, history_type="+").count() == 3
    assert Practice.history.filter(history_type="+").count() == 2  # rows 2 and 3 share a practice
    practice = Practice.objects.get(name="Demo Clinic 1")
    assert practice.point is not None  # placed at its ZIP, as a save would
    run_import(profiles_file(3, phone="312-555-0142"), user=curator)
    assert Practice.history.filter(history_type="~").count() == 2
    assert not Specialist.history.filter(history_type="~").exists()  # the specialists did not change


@pytest.mark.parametrize("model", [Specialist, Practice, Training, ProcedureVolume])
def test_the_importers_full_clean_leaves_out_no_unique_check(model):
    """_RowImporter.full_clean skips validate_unique(): for these models it checks only the primary key,
    which it skips for new and saved objects alike. A unique field added later must fail this test."""
    unique_checks, date_checks = model()._get_unique_checks()
    assert unique_checks == [(model, ("id",))]
    assert date_checks == []
