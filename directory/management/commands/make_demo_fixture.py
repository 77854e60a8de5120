"""Build the fictional demo directory as a Django fixture, dated relative to a day: the same bytes for the
same seed and day.

`setup_demo` builds it for today and loads it (nothing generated is committed), so the demo's counts are
always "past year" ones and its stale counts always stale, whatever the year. `manage.py make_demo_fixture`
writes it to a file (fixtures/demo.json by default, ignored by git) for a look or a `loaddata`.

Every demo record is invented and marked as such: practice names contain "Demo", phone numbers are in the
fictional 555-01xx range, NPIs start with 9 (real NPIs start with 1 or 2) and record_source is "demo".
Primary keys start at 900001 so `loaddata` overwrites demo rows only, and re-running it resets them.
"""

import datetime
import json
import random
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from directory.importers.zipcodes import iter_zip_rows
from directory.models import (
    CoordinatesSource,
    Procedure,
    RecordSource,
    ReviewStatus,
    Service,
    Specialty,
    VolumeSource,
    npi_check_digit,
)

FIXTURE_PATH = Path(settings.BASE_DIR) / "fixtures" / "demo.json"
DEFAULT_SEED = 20260101
# Where Kaiser Permanente runs its own care (elsewhere its members are referred outside).
KAISER_STATES = frozenset({"CA", "CO", "GA", "HI", "MD", "VA", "DC", "OR", "WA"})
FIRST_PK = 900001


@dataclass(frozen=True)
class Dates:
    """The demo's dates, relative to the day it is built: every count period is twelve months long."""

    today: datetime.date

    @property
    def created_at(self) -> datetime.datetime:
        day = self.today - datetime.timedelta(days=365)
        return datetime.datetime(day.year, day.month, day.day, 15, 0, tzinfo=datetime.UTC)

    @property
    def last_calendar_year(self) -> tuple[datetime.date, datetime.date]:
        year = self.today.year - 1
        return datetime.date(year, 1, 1), datetime.date(year, 12, 31)

    @property
    def last_july_to_june(self) -> tuple[datetime.date, datetime.date]:
        """The latest July–June year that has ended."""
        year = self.today.year if self.today > datetime.date(self.today.year, 6, 30) else self.today.year - 1
        return datetime.date(year - 1, 7, 1), datetime.date(year, 6, 30)

    @property
    def stale_periods(self) -> list[tuple[datetime.date, datetime.date]]:
        """Calendar years that ended more than two years ago: too old to stand for the past year."""
        year = self.today.year - 1
        return [(datetime.date(y, 1, 1), datetime.date(y, 12, 31)) for y in (year - 3, year - 2)]


@dataclass(frozen=True)
class Metro:
    zips: str  # real ZIPs of the metro's principal city; the first anchors the demo searches
    area_code: str
    size: int  # specialists
    languages: tuple[str, ...] = ()  # second languages common in the area


METROS = [
    Metro("60611 60612 60637 60657 60614 60640", "312", 10, ("Spanish", "Polish")),
    Metro("10001 10016 10021 10032 10065 10003", "212", 10, ("Spanish", "Mandarin", "Russian")),
    Metro("77030 77002 77024 77054 77004 77008", "713", 10, ("Spanish", "Vietnamese")),
    Metro("90033 90048 90095 90017 90027 90057", "213", 10, ("Spanish", "Korean", "Armenian")),
    Metro("80218 80206 80220 80210 80204 80222", "303", 10, ("Spanish",)),
    Metro("02114 02115 02215 02116", "617", 6, ("Portuguese", "Spanish")),
    Metro("19104 19107 19141", "215", 6, ("Spanish",)),
    Metro("20007 20010 20016", "202", 6, ("Spanish", "Amharic")),
    Metro("30308 30322 30342", "404", 6, ("Spanish",)),
    Metro("33136 33143 33125 33130", "305", 6, ("Spanish", "Haitian Creole", "Portuguese")),
    Metro("75390 75246 75230", "214", 6, ("Spanish",)),
    Metro("85006 85013 85016", "602", 6, ("Spanish",)),
    Metro("98104 98122 98195", "206", 6, ("Mandarin", "Vietnamese")),
    Metro("94143 94115 94109", "415", 6, ("Cantonese", "Mandarin", "Spanish")),
    Metro("55455 55407 55414", "612", 6, ("Somali", "Hmong")),
    Metro("92103 92108 92123", "619", 6, ("Spanish", "Tagalog")),
    Metro("63110 63141", "314", 4, ("Bosnian",)),
    Metro("48201 48202", "313", 4, ("Arabic",)),
    Metro("44195 44106", "216", 3),
    Metro("15213 15212", "412", 3),
    Metro("37232 37203", "615", 4, ("Kurdish",)),
    Metro("84132 84107", "801", 3, ("Spanish",)),
    Metro("97239 97225", "503", 3, ("Russian",)),
    Metro("64111 64132", "816", 3),
    Metro("28204 28207", "704", 3, ("Spanish",)),
    Metro("70112 70121", "504", 3, ("French",)),
    Metro("21287 21201", "410", 4),
    Metro("33606 33612", "813", 3, ("Spanish",)),
    Metro("46202 46260", "317", 3),
    Metro("43210 43214", "614", 3, ("Somali",)),
    Metro("87106 87102", "505", 3, ("Spanish", "Navajo")),
    Metro("73104 73112", "405", 3),
    Metro("68198 68114", "402", 3),
    Metro("89102 89128", "702", 4, ("Spanish", "Tagalog")),
    Metro("35233 35209", "205", 3),
    Metro("27607 27610", "919", 3, ("Spanish",)),
    Metro("53226 53215", "414", 3, ("Hmong",)),
    Metro("40202 40207", "502", 3),
    Metro("23298 23226", "804", 3),
    # Thinly covered places, where a search shows few matches and the nearest ones beyond the radius.
    Metro("83706", "208", 2),
    Metro("99508", "907", 2, ("Tagalog",)),
    Metro("96813", "808", 2, ("Japanese", "Tagalog")),
    Metro("72205", "501", 2),
    Metro("04102", "207", 2, ("French",)),
    Metro("59101", "406", 1),
    Metro("57105", "605", 1),
    Metro("05401", "802", 1),
]

# A fixed rotation keeps every metro's mix balanced (each metro starts at a different place).
SPECIALTY_CYCLE = [
    Specialty.ORTHOPAEDIC_SPINE,
    Specialty.PAIN_MEDICINE,
    Specialty.PMR,
    Specialty.NEUROSURGERY,
    Specialty.PAIN_MEDICINE,
    Specialty.ORTHOPAEDIC_SPINE,
    Specialty.INTERVENTIONAL_RADIOLOGY,
    Specialty.PMR,
    Specialty.PAIN_MEDICINE,
    Specialty.NEUROSURGERY,
    Specialty.OTHER,
]
KIND = {
    Specialty.ORTHOPAEDIC_SPINE: "surgical",
    Specialty.NEUROSURGERY: "surgical",
    Specialty.PAIN_MEDICINE: "interventional",
    Specialty.INTERVENTIONAL_RADIOLOGY: "interventional",
    Specialty.PMR: "rehab",
    Specialty.OTHER: "rehab",
}
CREDENTIALS = {
    Specialty.ORTHOPAEDIC_SPINE: ["MD", "DO", "MD, FAAOS"],
    Specialty.NEUROSURGERY: ["MD", "MD, FAANS"],
    Specialty.PAIN_MEDICINE: ["MD", "DO"],
    Specialty.INTERVENTIONAL_RADIOLOGY: ["MD", "MD, FSIR"],
    Specialty.PMR: ["DO", "MD"],
    Specialty.OTHER: ["MD", "DO"],
}
# Probability that a specialist of this specialty offers each service.
SERVICE_ODDS = {
    Specialty.ORTHOPAEDIC_SPINE: {
        Service.MIS_SI_FUSION: 0.8,
        Service.OPEN_SI_FUSION: 0.25,
        Service.REVISION_SURGERY: 0.3,
        Service.DIAGNOSTIC_SI_INJECTION: 0.35,
        Service.THERAPEUTIC_SI_INJECTION: 0.15,
        Service.CONSERVATIVE_CARE: 0.3,
        Service.EVALUATES_SI_IN_LUMBAR_WORKUP: 0.6,
        Service.TREATS_POST_LUMBAR_FUSION: 0.75,
    },
    Specialty.NEUROSURGERY: {
        Service.MIS_SI_FUSION: 0.7,
        Service.OPEN_SI_FUSION: 0.2,
        Service.REVISION_SURGERY: 0.3,
        Service.DIAGNOSTIC_SI_INJECTION: 0.25,
        Service.CONSERVATIVE_CARE: 0.2,
        Service.EVALUATES_SI_IN_LUMBAR_WORKUP: 0.5,
        Service.TREATS_POST_LUMBAR_FUSION: 0.8,
    },
    Specialty.PAIN_MEDICINE: {
        Service.DIAGNOSTIC_SI_INJECTION: 0.95,
        Service.THERAPEUTIC_SI_INJECTION: 0.9,
        Service.RF_ABLATION: 0.65,
        Service.CONSERVATIVE_CARE: 0.5,
        Service.MIS_SI_FUSION: 0.15,
        Service.EVALUATES_SI_IN_LUMBAR_WORKUP: 0.75,
        Service.TREATS_POST_LUMBAR_FUSION: 0.55,
    },
    Specialty.INTERVENTIONAL_RADIOLOGY: {
        Service.DIAGNOSTIC_SI_INJECTION: 0.95,
        Service.THERAPEUTIC_SI_INJECTION: 0.8,
        Service.RF_ABLATION: 0.6,
        Service.MIS_SI_FUSION: 0.1,
        Service.EVALUATES_SI_IN_LUMBAR_WORKUP: 0.4,
        Service.TREATS_POST_LUMBAR_FUSION: 0.3,
    },
    Specialty.PMR: {
        Service.CONSERVATIVE_CARE: 0.98,
        Service.DIAGNOSTIC_SI_INJECTION: 0.55,
        Service.THERAPEUTIC_SI_INJECTION: 0.5,
        Service.RF_ABLATION: 0.15,
        Service.EVALUATES_SI_IN_LUMBAR_WORKUP: 0.85,
        Service.TREATS_POST_LUMBAR_FUSION: 0.5,
    },
    Specialty.OTHER: {
        Service.CONSERVATIVE_CARE: 0.9,
        Service.DIAGNOSTIC_SI_INJECTION: 0.2,
        Service.EVALUATES_SI_IN_LUMBAR_WORKUP: 0.5,
        Service.TREATS_POST_LUMBAR_FUSION: 0.3,
    },
}
# Yearly count ranges (low, high) by kind of practice; low counts are more common than high ones.
VOLUME_RANGES = {
    ("surgical", Procedure.MIS_SI_FUSION): (3, 70),
    ("surgical", Procedure.OPEN_SI_FUSION): (1, 6),
    ("surgical", Procedure.LUMBAR_FUSION): (25, 240),
    ("surgical", Procedure.SI_INJECTION): (5, 60),
    ("surgical", Procedure.RF_ABLATION): (2, 15),
    ("interventional", Procedure.MIS_SI_FUSION): (2, 24),
    ("interventional", Procedure.SI_INJECTION): (40, 420),
    ("interventional", Procedure.RF_ABLATION): (10, 140),
    ("rehab", Procedure.SI_INJECTION): (8, 150),
    ("rehab", Procedure.RF_ABLATION): (4, 30),
}
TRAININGS = {  # (course, organised by, device system); organisers are invented too
    "surgical": [
        ("Minimally invasive SI-joint fusion course", "Demo Spine Surgery Society", "Triangular titanium implants"),
        ("SI-joint fusion cadaver lab", "Demo University Department of Orthopaedics", "Threaded fusion screws"),
        ("Lateral SI-joint fusion hands-on workshop", "Demo Academy of Spine Surgeons", "Porous titanium implants"),
        ("SI-joint revision surgery masterclass", "Demo Spine Surgery Society", ""),
        ("Spine surgery fellowship with SI-joint rotation", "Demo University Hospital", ""),
    ],
    "interventional": [
        ("Fluoroscopy-guided SI-joint injection workshop", "Demo Society of Interventional Pain Physicians", ""),
        ("SI-joint radiofrequency ablation course", "Demo Pain Medicine Academy", "Cooled radiofrequency probes"),
        ("Lateral branch RF ablation hands-on lab", "Demo Pain Medicine Academy", "Multi-tined RF probes"),
        ("Posterior SI-joint fusion course", "Demo Interventional Spine Institute", "Posterior allograft implants"),
    ],
    "rehab": [
        ("SI-joint examination and provocation tests course", "Demo Academy of Physical Medicine", ""),
        ("Ultrasound-guided SI-joint injection course", "Demo Academy of Physical Medicine", ""),
        ("Pelvic girdle rehabilitation seminar", "Demo Physical Therapy Association", ""),
    ],
}
PRACTICE_NAMES = {
    "surgical": [
        "Demo Spine Center of {city}",
        "Demo {district} Orthopaedic Spine Associates",
        "Demo Neurosurgery & Spine Partners of {city}",
        "Demo {district} Spine Surgery Group",
    ],
    "interventional": [
        "Demo Pain & Spine Institute of {city}",
        "Demo {district} Interventional Spine Clinic",
        "Demo SI-Joint & Back Pain Clinic of {city}",
        "Demo {district} Pain Medicine Associates",
    ],
    "rehab": [
        "Demo Spine Rehabilitation Center of {city}",
        "Demo {district} Physical Medicine & Back Care",
        "Demo {district} Sports & Spine Clinic",
    ],
}
FLAGSHIP_SERVICES = [
    Service.MIS_SI_FUSION,
    Service.DIAGNOSTIC_SI_INJECTION,
    Service.EVALUATES_SI_IN_LUMBAR_WORKUP,
    Service.TREATS_POST_LUMBAR_FUSION,
]
HOSPITAL_PRACTICE = "Demo {city} University Hospital Spine Clinic"
DISTRICTS = ["Riverside", "Lakeview", "Northgate", "Parkside", "Summit", "Harborview", "Westbrook", "Hillcrest"]
STREETS = [
    "Larkspur Medical Parkway",
    "Quillan Avenue",
    "Bramblewood Boulevard",
    "Heronway Drive",
    "Thistledown Road",
    "Meadowlark Medical Plaza",
    "Copperleaf Street",
    "Juniper Hollow Lane",
    "Wrenfield Avenue",
    "Sorrelbrook Drive",
]
FIRST_NAMES = {
    "F": "Adaeze Beatrix Camila Delphine Esperanza Farah Greta Hana Ingrid Josefina Keiko Lucinda Marisol Nadia "
    "Ottilie Priya Rosalind Saoirse Tamsin Valentina Wilhelmina Ximena Yara Zofia Mei Leilani Amara Noor",
    "M": "Ambrose Bartholomew Cosmo Desmond Evander Gideon Horatio Ignatius Jasper Kofi Leopold Mateo Nikolai "
    "Octavian Percival Quentin Rafferty Thaddeus Ulysses Vikram Wendell Yusuf Zebulon Hiroshi Arjun Emeka",
}
# Surnames made of two invented halves ("Thistlequist"), so that no demo name reads like a real doctor's.
SURNAME_STARTS = "Bramble Thistle Quill Nettle Pebble Clover Fennel Sorrel Juniper Marigold Larkspur Tansy Bracken "
SURNAME_STARTS += "Heron Sparrow Moss Lichen Cobble Tumble Puddle"
SURNAME_ENDS = "wick combe thorpe quist hollow beck stead worth ridge more gate bottom"
UNPUBLISHED_REASONS = [
    "Demo: awaiting confirmation of the practice address",
    "Demo: the specialist asked to be hidden while changing practices",
    "Demo: retired (fictional)",
]


class Command(BaseCommand):
    help = "Write the fictional demo directory, dated relative to today, to fixtures/demo.json (or --output)."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
        parser.add_argument("--output", type=Path, default=FIXTURE_PATH)

    def handle(self, *args, **options):
        objects = build_demo_fixture(seed=options["seed"])
        options["output"].parent.mkdir(parents=True, exist_ok=True)
        options["output"].write_text(dump_fixture(objects))
        counts = {}
        for obj in objects:
            counts[obj["model"]] = counts.get(obj["model"], 0) + 1
        summary = ", ".join(f"{count} {model.split('.')[1]}" for model, count in counts.items())
        self.stdout.write(self.style.SUCCESS(f"Wrote {options['output']}: {summary}."))


def dump_fixture(objects) -> str:
    """Return the fixture as JSON with one object per line (small, and readable in a diff)."""
    return "[\n" + ",\n".join(json.dumps(obj, ensure_ascii=False) for obj in objects) + "\n]\n"


def demo_npi(n: int) -> str:
    """Return a valid NPI starting with 9, a prefix no real NPI uses."""
    first_nine = f"{900010000 + n:09d}"
    return first_nine + str(npi_check_digit(first_nine))


def skewed_count(rng: random.Random, low: int, high: int) -> int:
    """Return a count in [low, high], low values being more common (as with real procedure volumes)."""
    return low + round((high - low) * rng.random() ** 1.8)


def build_demo_fixture(*, seed: int = DEFAULT_SEED, today: datetime.date | None = None) -> list[dict]:
    """Return the demo directory as Django fixture objects: practices, specialists and their details, dated
    relative to `today` (default: today)."""
    rng = random.Random(seed)
    wanted = {code for metro in METROS for code in metro.zips.split()}
    centroids = {row[0]: row[1:] for row in iter_zip_rows() if row[0] in wanted}
    surnames = [start + end for start in SURNAME_STARTS.split() for end in SURNAME_ENDS.split()]
    rng.shuffle(surnames)
    builder = _Builder(rng, centroids, surnames, Dates(today or timezone.localdate()))
    for index, metro in enumerate(METROS):
        builder.add_metro(metro, cycle_start=index * 3)
    return builder.practices + builder.specialists + builder.affiliations + builder.trainings + builder.volumes


class _Builder:
    def __init__(self, rng, centroids, surnames, dates):
        self.rng = rng
        self.dates = dates
        self.centroids = centroids
        self.surnames = surnames
        self.practices, self.specialists, self.affiliations, self.trainings, self.volumes = [], [], [], [], []
        self.practice_names = set()
        self.phone_numbers = {}

    @staticmethod
    def _row(model, objects, fields):
        objects.append({"model": f"directory.{model}", "pk": FIRST_PK + len(objects), "fields": fields})
        return objects[-1]["pk"]

    def add_metro(self, metro: Metro, *, cycle_start: int):
        zips = metro.zips.split()
        specialists = []
        for offset in range(metro.size):
            specialty = SPECIALTY_CYCLE[(cycle_start + offset) % len(SPECIALTY_CYCLE)]
            # The big demo cities each get one clear benchmark: a verified, trained, busy SI-joint surgeon.
            first_surgeon = KIND[specialty] == "surgical" and not any(kind == "surgical" for _, kind in specialists)
            flagship = metro.size >= 10 and first_surgeon
            specialists.append((self.add_specialist(specialty, metro, flagship=flagship), KIND[specialty]))

        zip_turn = 0
        for kind in ("surgical", "interventional", "rehab"):
            members = [pk for pk, member_kind in specialists if member_kind == kind]
            while members:
                size = min(len(members), self.rng.choice((1, 2, 2, 3)))
                group, members = members[:size], members[size:]
                practice = self.add_practice(kind, zips[zip_turn % len(zips)], metro)
                zip_turn += 1
                for pk in group:
                    self._row(
                        "affiliation", self.affiliations, {"specialist": pk, "practice": practice, "is_primary": True}
                    )

        if metro.size >= 5:  # a hospital clinic where some surgeons and injectors also see patients
            visiting = [pk for pk, kind in specialists if kind != "rehab" and self.rng.random() < 0.4]
            hospital = self.add_practice("hospital", zips[-1], metro) if visiting else None
            for pk in visiting:
                self._row(
                    "affiliation", self.affiliations, {"specialist": pk, "practice": hospital, "is_primary": False}
                )

    def add_practice(self, kind, zip_code, metro):
        city, state, latitude, longitude = self.centroids[zip_code]
        templates = [HOSPITAL_PRACTICE] if kind == "hospital" else PRACTICE_NAMES[kind]
        for _ in range(50):
            name = self.rng.choice(templates).format(city=city, district=self.rng.choice(DISTRICTS))
            if name not in self.practice_names:
                break
        else:
            raise ValueError(f"No unused practice name left for {kind} in {city}")
        self.practice_names.add(name)
        line = self.phone_numbers[metro.area_code] = self.phone_numbers.get(metro.area_code, -1) + 1
        if line > 99:
            raise ValueError(f"Area code {metro.area_code} has used up the fictional numbers 555-0100…0199")
        fields = {
            "name": name,
            "address_line1": f"{self.rng.randrange(100, 9900, 10)} {self.rng.choice(STREETS)}",
            "address_line2": f"Suite {self.rng.randrange(1, 9)}{self.rng.choice(('00', '10', '50'))}"
            if self.rng.random() < 0.6
            else "",
            "city": city,
            "state": state,
            "zip_code": zip_code,
            "phone": f"{metro.area_code}-555-01{line:02d}",
            # loaddata skips Practice.save(), so the ZIP centroid is written here.
            "latitude": latitude,
            "longitude": longitude,
            "coordinates_source": CoordinatesSource.ZIP_CENTROID.value,
            "updated_at": _iso(self.dates.created_at),  # loaddata skips auto_now too
        }
        fields.update(self.demo_insurance(len(self.practices), kind, state))
        return self._row("practice", self.practices, fields)

    def demo_insurance(self, number: int, kind: str, state: str) -> dict:
        """Return a practice's insurance list (by code: natural keys) and when it was confirmed; one in five
        practices has none on file. A random stream of its own, so the rest of the demo stays as it was."""
        rng = random.Random(f"{DEFAULT_SEED}-insurance-{number}")
        if rng.random() < 0.2:
            return {"insurance": [], "insurance_confirmed_on": None}
        odds = {"medicare": 0.95, "medicaid": 0.5, "tricare": 0.3, "va_community_care": 0.25, "self_pay": 0.7}
        odds |= dict.fromkeys(("unitedhealthcare", "elevance_anthem", "aetna", "cigna", "humana", "bcbs"), 0.65)
        odds["workers_comp"] = 0.7 if kind in ("surgical", "hospital") else 0.3
        odds["kaiser_permanente"] = 0.5 if state in KAISER_STATES else 0.0
        codes = [code for code, chance in odds.items() if rng.random() < chance]
        confirmed_on = self.dates.today - datetime.timedelta(days=rng.randrange(7, 300))
        return {"insurance": [[code] for code in codes], "insurance_confirmed_on": confirmed_on.isoformat()}

    def add_specialist(self, specialty: Specialty, metro: Metro, *, flagship=False) -> int:
        rng = self.rng
        n = len(self.specialists)
        kind = KIND[specialty]
        gender = rng.choice("FM")
        first_name = rng.choice(FIRST_NAMES[gender].split())
        last_name = self.surnames[n]
        services = {service: rng.random() < odds for service, odds in SERVICE_ODDS[specialty].items()}
        if flagship:
            for service in FLAGSHIP_SERVICES:
                services[service] = True
        languages = ["English"]
        if metro.languages and rng.random() < 0.35:
            languages.append(rng.choice(metro.languages))
        published = flagship or not (metro.size >= 5 and rng.random() < 0.08)
        verified_at = None
        if flagship or rng.random() < 0.4:
            verified_at = self.dates.created_at + datetime.timedelta(days=rng.randint(30, 330))
        fields = {
            "npi": demo_npi(n),
            "first_name": first_name,
            "middle_name": f"{rng.choice('ABCDEFGHJKLMNPRSTW')}." if rng.random() < 0.3 else "",
            "last_name": last_name,
            "credentials": rng.choice(CREDENTIALS[specialty]),
            "specialty": specialty.value,
            "languages": "; ".join(languages),
            "gender": gender,
            "accepting_new_patients": rng.random() < 0.85,
            "telehealth": rng.random() < (0.25 if kind == "surgical" else 0.55),
            "bio": f"Fictional demo profile, not a real clinician: {first_name} {last_name} is an invented "
            f"{specialty.label.lower()} specialist in {self.centroids[metro.zips.split()[0]][0]}.",
            "website": f"https://example.org/demo/{first_name}-{last_name}".lower() if rng.random() < 0.3 else "",
            **{service.value: services.get(service, False) for service in Service},
            "is_published": published,
            "unpublished_reason": "" if published else rng.choice(UNPUBLISHED_REASONS),
            "verified_at": _iso(verified_at),
            "verified_by": None,
            "verification_notes": "Demo: services and counts confirmed with the practice." if verified_at else "",
            "record_source": RecordSource.DEMO.value,
            "review_status": ReviewStatus.CURATED.value,
            "curator_edited_fields": [],
            "created_at": _iso(self.dates.created_at + datetime.timedelta(minutes=n)),
            "updated_at": _iso(verified_at or self.dates.created_at + datetime.timedelta(minutes=n)),
        }
        pk = self._row("specialist", self.specialists, fields)
        self.add_trainings(pk, kind, services, flagship=flagship)
        self.add_volumes(pk, kind, services, verified=verified_at is not None, flagship=flagship)
        return pk

    def add_trainings(self, pk, kind, services, *, flagship):
        rng = self.rng
        courses = list(TRAININGS[kind])
        if kind == "interventional" and not services.get(Service.MIS_SI_FUSION):
            courses = [course for course in courses if "fusion" not in course[0]]
        if kind == "surgical" and services.get(Service.MIS_SI_FUSION):
            how_many = 2 if flagship else rng.choice((0, 1, 1, 2, 2, 3))  # most fusion surgeons trained
        else:
            how_many = rng.choice((0, 0, 1, 1, 2))
        for course, provider, device_system in rng.sample(courses, min(how_many, len(courses))):
            fields = {"specialist": pk, "course": course, "provider": provider, "device_system": device_system}
            year = rng.randint(self.dates.today.year - 14, self.dates.today.year - 1)
            self._row("training", self.trainings, {**fields, "year": year})

    def add_volumes(self, pk, kind, services, *, verified, flagship):
        rng = self.rng
        procedures = []
        if services.get(Service.MIS_SI_FUSION):
            procedures.append(Procedure.MIS_SI_FUSION)
        if services.get(Service.OPEN_SI_FUSION):
            procedures.append(Procedure.OPEN_SI_FUSION)
        if kind == "surgical":
            procedures.append(Procedure.LUMBAR_FUSION)
        if services.get(Service.DIAGNOSTIC_SI_INJECTION) or services.get(Service.THERAPEUTIC_SI_INJECTION):
            procedures.append(Procedure.SI_INJECTION)
        if services.get(Service.RF_ABLATION):
            procedures.append(Procedure.RF_ABLATION)
        # What we know: a current count (often with a CMS count beside it), current and older counts,
        # only counts too old to stand for the past year, or nothing at all.
        history = rng.choices(["current", "current_and_stale", "stale", "none"], weights=[62, 12, 11, 15])[0]
        main_source = rng.choices(
            [VolumeSource.SELF_REPORTED, VolumeSource.HOSPITAL, VolumeSource.REGISTRY, VolumeSource.CMS_MEDICARE],
            weights=[55, 15, 12, 18],
        )[0]
        if flagship:  # a registry-backed track record, this year and before
            history, main_source = "current_and_stale", VolumeSource.REGISTRY
        dates = self.dates
        july_to_june = rng.random() < 0.3 and main_source != VolumeSource.CMS_MEDICARE
        period = dates.last_july_to_june if july_to_june else dates.last_calendar_year
        with_cms = main_source != VolumeSource.CMS_MEDICARE and rng.random() < 0.35
        stale_period = rng.choice(dates.stale_periods)
        for procedure in procedures:
            low, high = VOLUME_RANGES[(kind, procedure)]
            count = skewed_count(rng, (low + high) // 2 if flagship else low, high)
            if history in ("current", "current_and_stale"):
                source = main_source
                if source == VolumeSource.REGISTRY and procedure not in (
                    Procedure.MIS_SI_FUSION,
                    Procedure.LUMBAR_FUSION,
                ):
                    source = VolumeSource.SELF_REPORTED  # registries track fusions, not injections
                self.add_volume(pk, procedure, period, count, source, verified=verified)
                if with_cms:  # Medicare fee-for-service patients only: a floor under the full count
                    self.add_volume(
                        pk,
                        procedure,
                        dates.last_calendar_year,
                        round(count * rng.uniform(0.25, 0.6)),
                        VolumeSource.CMS_MEDICARE,
                    )
            if history in ("stale", "current_and_stale"):
                stale_source = rng.choice([VolumeSource.SELF_REPORTED, VolumeSource.CMS_MEDICARE])
                self.add_volume(pk, procedure, stale_period, skewed_count(rng, low, high), stale_source)

    def add_volume(self, pk, procedure, period, count, source, *, verified=False):
        # CMS withholds counts under 11 to protect patients' privacy.
        suppressed = source == VolumeSource.CMS_MEDICARE and count < 11
        fields = {
            "specialist": pk,
            "procedure": procedure.value,
            "period_start": period[0].isoformat(),
            "period_end": period[1].isoformat(),
            "count": None if suppressed else count,
            "beneficiaries": round(count * self.rng.uniform(0.85, 1.0))
            if source == VolumeSource.CMS_MEDICARE and not suppressed
            else None,
            "is_suppressed": suppressed,
            "source": source.value,
            "verified": verified
            and source in (VolumeSource.REGISTRY, VolumeSource.HOSPITAL, VolumeSource.SELF_REPORTED),
            "notes": "CMS does not publish counts under 11." if suppressed else "",
        }
        self._row("procedurevolume", self.volumes, fields)


def _iso(moment):
    return moment.isoformat().replace("+00:00", "Z") if moment else None
