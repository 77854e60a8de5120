"""The ranking's reasons and key facts are kept per language (directory.volumes.kept_per_language): kept words
must be the words worded afresh, in the language asked for, whatever was kept before and whatever language is
active, and must follow `today` (pure: no database)."""

import datetime
from dataclasses import replace

from django.utils import translation
from hypothesis import given, settings
from hypothesis import strategies as st

from directory import volumes
from directory.models import Procedure, Service, VolumeSource
from referral import ranking
from referral.ranking import Candidate, Volume

TODAY = datetime.date(2026, 3, 15)
LANGUAGES = ("en", "es")


def forget_kept_words():
    """Empty every kept wording function's cache, so that the next words are worded from the catalogues."""
    for module in (volumes, ranking):
        for value in vars(module).values():
            if callable(value) and hasattr(value, "cache_clear"):
                value.cache_clear()


def worded(candidate, today, language):
    """The reasons and key facts of a candidate in `language`, as the search index writes them."""
    experience = ranking.assess_experience(candidate.volumes, today)
    reasons = {c: r for c, (_s, r) in ranking.static_results(candidate, today, experience, language=language).items()}
    return reasons, ranking.key_facts(candidate, today=today, experience=experience, language=language)


def afresh(candidate, today, language):
    forget_kept_words()
    return worded(candidate, today, language)


days = st.dates(min_value=datetime.date(2019, 1, 1), max_value=datetime.date(2026, 3, 15))
counts = st.builds(
    lambda procedure, count, year, long_period, source, verified: Volume(
        procedure,
        count,
        datetime.date(year, 1 if long_period else 7, 1),
        datetime.date(year, 12, 31),
        source,
        verified,
        is_suppressed=count is None,
    ),
    st.sampled_from(list(Procedure)),
    st.none() | st.integers(0, 3000),
    st.integers(2021, 2026),
    st.booleans(),
    st.sampled_from(list(VolumeSource)),
    st.booleans(),
)
candidates = st.builds(
    lambda services, volumes_, trainings, latest, verified_at, accepting: Candidate(
        id=1,
        last_name="Doe",
        first_name="Jan",
        distance_miles=0.0,
        services=frozenset(services),
        volumes=tuple(volumes_),
        training_count=trainings,
        latest_training=latest if trainings else "",
        verified_at=verified_at,
        accepting_new_patients=accepting,
    ),
    st.sets(st.sampled_from(list(Service))),
    st.lists(counts, max_size=6),
    st.integers(0, 4),
    st.sampled_from(["", "MIS SI-joint fusion course, 2024", "Cadaver lab, 2019"]),
    st.none() | days,
    st.booleans(),
)


@settings(max_examples=150, deadline=None)
@given(field=st.lists(candidates, min_size=2, max_size=6), today=days, active=st.sampled_from(LANGUAGES))
def test_kept_words_are_the_words_worded_afresh_in_the_language_asked_for(field, today, active):
    fresh = {(i, language): afresh(c, today, language) for i, c in enumerate(field) for language in LANGUAGES}
    with translation.override(active):  # the language asked for wins over the active one
        # Kept words from every other candidate, in both languages and in turn, then each one again.
        for _ in range(2):
            for i, c in enumerate(field):
                for language in LANGUAGES:
                    assert worded(c, today, language) == fresh[i, language]
        for i, c in enumerate(field):  # no language given: the active one
            assert worded(c, today, None) == fresh[i, active]


def test_the_active_language_words_what_is_kept_in_the_other():
    c = Candidate(
        id=1,
        last_name="Doe",
        first_name="Jan",
        distance_miles=0.0,
        services=frozenset({Service.MIS_SI_FUSION}),
        volumes=(
            Volume(
                Procedure.MIS_SI_FUSION,
                1250,
                datetime.date(2025, 1, 1),
                datetime.date(2025, 12, 31),
                "self_reported",
                True,
            ),
        ),
        training_count=1,
        latest_training="MIS SI-joint fusion course, 2024",
        verified_at=datetime.date(2026, 2, 10),
    )
    with translation.override("en"):
        english = worded(c, TODAY, None)
    with translation.override("es"):
        spanish = worded(c, TODAY, None)
    assert english[0][ranking.AVAILABILITY] == "Accepting new patients"
    assert spanish[0][ranking.AVAILABILITY] == "Acepta pacientes nuevos"
    assert english[0][ranking.VERIFIED] == "Profile verified Feb 2026"
    assert spanish[0][ranking.VERIFIED] == "Perfil verificado en feb 2026"
    assert english[1][0] == "1,250 minimally invasive SI-joint fusions, Jan–Dec 2025, self-reported, verified Feb 2026"
    assert "sin verificar" not in spanish[1][0] and "verificado" in spanish[1][0]
    assert all(e != s for e, s in zip(english[1], spanish[1], strict=True))
    with translation.override("en"):  # back to English: nothing Spanish kept leaks in
        assert worded(c, TODAY, None) == english


def test_kept_reasons_follow_today():
    c = Candidate(
        id=1,
        last_name="Doe",
        first_name="Jan",
        distance_miles=0.0,
        verified_at=datetime.date(2025, 3, 1),
        volumes=(
            Volume(
                Procedure.SI_INJECTION,
                40,
                datetime.date(2025, 1, 1),
                datetime.date(2025, 12, 31),
                "cms_medicare",
                False,
            ),
        ),
    )
    days_on = [TODAY, TODAY + datetime.timedelta(days=365 * 3), TODAY, datetime.date(2025, 12, 1)]
    kept = [worded(c, day, "en") for day in days_on]
    assert kept == [afresh(c, day, "en") for day in days_on]
    assert kept[0][0][ranking.VERIFIED] == "Profile verified Mar 2025 (more than a year ago)"
    assert kept[1][0][ranking.VERIFIED] == "Profile last verified Mar 2025, more than three years ago"
    assert kept[3][0][ranking.VERIFIED] == "Profile verified Mar 2025"
    # The count is past-year on 15 Mar 2026 and stale three years on; before its period ends it is neither.
    assert kept[0][1] and kept[1][1] == ["SI-joint injections: last count is from 2025, too old to count"]
    assert kept[3][1] == []


@settings(max_examples=60, deadline=None)
@given(candidate=candidates, first=days, other_day=st.integers(1, 28), today=days)
def test_a_count_verified_another_day_of_the_same_month_reads_as_worded_afresh(candidate, first, other_day, today):
    # A count's words are kept without the profile's verification, whose month (volumes.verified_month) is put in.
    verified = [replace(candidate, verified_at=day) for day in (first, first.replace(day=other_day))]
    fresh = [afresh(c, today, language) for c in verified for language in LANGUAGES]
    forget_kept_words()
    assert [worded(c, today, language) for c in verified for language in LANGUAGES] == fresh
