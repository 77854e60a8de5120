"""factory_boy factories for tests (demo data for people comes from `manage.py setup_demo`).

Dates are relative to today (no test depends on the current year).
"""

import datetime

import factory
from django.contrib.auth.models import Group, User
from django.utils import timezone

from directory.importers.zipcodes import load_zipcodes
from directory.models import (
    Affiliation,
    Practice,
    Procedure,
    ProcedureVolume,
    Specialist,
    Specialty,
    Training,
    VolumeSource,
    ZipCode,
    npi_check_digit,
)


def ensure_zipcodes():
    """Load every US ZIP if the table was emptied: a transactional test (live server, browser) flushes every
    table when it ends, the ZIPs the migration loaded included, and the tests after it still search by ZIP."""
    if not ZipCode.objects.filter(code="60611").exists():
        load_zipcodes()


def make_npi(n: int) -> str:
    """Return a valid NPI built from the sequence number `n`."""
    first_nine = f"{100000000 + n:09d}"
    return first_nine + str(npi_check_digit(first_nine))


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def groups(self, create, extracted, **kwargs):
        for name in extracted or ():
            self.groups.add(Group.objects.get_or_create(name=name)[0])
        if create:
            self.save()


class CuratorFactory(UserFactory):
    is_staff = True

    @factory.post_generation
    def groups(self, create, extracted, **kwargs):
        # A plain `groups = (...)` here would replace the post-generation hook with a model field value.
        for name in extracted or ("Curators",):
            self.groups.add(Group.objects.get_or_create(name=name)[0])
        if create:
            self.save()  # also stores the password set by UserFactory


class PracticeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Practice

    name = factory.Sequence(lambda n: f"Demo Spine Practice {n}")
    address_line1 = factory.Sequence(lambda n: f"{100 + n} Test Avenue")
    city = "Chicago"
    state = "IL"
    zip_code = "60611"
    phone = "312-555-0100"


class SpecialistFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Specialist
        skip_postgeneration_save = True

    npi = factory.Sequence(make_npi)
    first_name = factory.Sequence(lambda n: f"Test{n}")
    last_name = factory.Sequence(lambda n: f"Specialist{n}")
    credentials = "MD"
    specialty = Specialty.ORTHOPAEDIC_SPINE
    languages = "English"
    is_published = True

    @factory.post_generation
    def practices(self, create, extracted, **kwargs):
        """Pass practices=[...] to place the specialist; by default one practice at ZIP 60611."""
        if not create:
            return
        for index, practice in enumerate(extracted if extracted is not None else [PracticeFactory()]):
            Affiliation.objects.create(specialist=self, practice=practice, is_primary=index == 0)


class TrainingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Training

    specialist = factory.SubFactory(SpecialistFactory)
    course = "Minimally invasive SI-joint fusion course"
    year = factory.LazyFunction(lambda: timezone.localdate().year - 2)


class ProcedureVolumeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProcedureVolume

    specialist = factory.SubFactory(SpecialistFactory)
    procedure = Procedure.MIS_SI_FUSION
    # Last calendar year: always a past-year count under the default 24-month window.
    period_start = factory.LazyFunction(lambda: datetime.date(timezone.localdate().year - 1, 1, 1))
    period_end = factory.LazyAttribute(lambda volume: datetime.date(volume.period_start.year, 12, 31))
    count = 30
    source = VolumeSource.SELF_REPORTED


class PhysicianFactory(UserFactory):
    """A user in the "Referring physicians" group (pass groups=(...) to choose others)."""

    @factory.post_generation
    def groups(self, create, extracted, **kwargs):
        for name in extracted or ("Referring physicians",):
            self.groups.add(Group.objects.get_or_create(name=name)[0])
        if create:
            self.save()  # also stores the password set by UserFactory


class ShortlistFactory(factory.django.DjangoModelFactory):
    """A list made from a search at ZIP 60611 within 50 miles; pass specialists=[...] to add them in order."""

    class Meta:
        model = "shortlists.Shortlist"
        skip_postgeneration_save = True

    owner = factory.SubFactory(PhysicianFactory)
    title = factory.Sequence(lambda n: f"Referral list {n}")
    origin_zip = "60611"
    radius_miles = 50
    situation = factory.LazyFunction(lambda: {"prior_lumbar_fusion": True, "conservative_months": 8})

    @factory.post_generation
    def specialists(self, create, extracted, **kwargs):
        for specialist in extracted or ():
            self.add(specialist)
