"""Synthetic CMS and NPPES files with the real headers, for the import tests and benchmarks.

    python bench/public_files.py cms 10000000    → bench/data/MUP_PHY_R24_P05_V10_D24_Prov_Svc.csv
    python bench/public_files.py nppes 1000000   → bench/data/npidata_pfile_20050523-20251109.csv

The CMS header is the by-provider-and-service file's full column list (2023+ releases, which dropped
Rndrng_Prvdr_Gndr); the NPPES header is npidata_pfile's 330 columns, "Provider Sex Code" in current files and
"Provider Gender Code" in older ones. People, addresses and NPIs are made up (NPIs carry a valid check digit).
"""

import csv
import gzip
import io
import random
import sys
import zipfile
from pathlib import Path

CMS_HEADER = [
    "Rndrng_NPI",
    "Rndrng_Prvdr_Last_Org_Name",
    "Rndrng_Prvdr_First_Name",
    "Rndrng_Prvdr_MI",
    "Rndrng_Prvdr_Crdntls",
    "Rndrng_Prvdr_Ent_Cd",
    "Rndrng_Prvdr_St1",
    "Rndrng_Prvdr_St2",
    "Rndrng_Prvdr_City",
    "Rndrng_Prvdr_State_Abrvtn",
    "Rndrng_Prvdr_State_FIPS",
    "Rndrng_Prvdr_Zip5",
    "Rndrng_Prvdr_RUCA",
    "Rndrng_Prvdr_RUCA_Desc",
    "Rndrng_Prvdr_Cntry",
    "Rndrng_Prvdr_Type",
    "Rndrng_Prvdr_Mdcr_Prtcptg_Ind",
    "HCPCS_Cd",
    "HCPCS_Desc",
    "HCPCS_Drug_Ind",
    "Place_Of_Srvc",
    "Tot_Benes",
    "Tot_Srvcs",
    "Tot_Bene_Day_Srvcs",
    "Avg_Sbmtd_Chrg",
    "Avg_Mdcr_Alowd_Amt",
    "Avg_Mdcr_Pymt_Amt",
    "Avg_Mdcr_Stdzd_Amt",
]


def nppes_header(sex_column: str = "Provider Sex Code") -> list[str]:
    """Return the 330 column names of npidata_pfile, in the file's order."""
    practice = "Provider Business Practice Location Address"
    mailing = "Provider Business Mailing Address"
    header = [
        "NPI",
        "Entity Type Code",
        "Replacement NPI",
        "Employer Identification Number (EIN)",
        "Provider Organization Name (Legal Business Name)",
        "Provider Last Name (Legal Name)",
        "Provider First Name",
        "Provider Middle Name",
        "Provider Name Prefix Text",
        "Provider Name Suffix Text",
        "Provider Credential Text",
        "Provider Other Organization Name",
        "Provider Other Organization Name Type Code",
        "Provider Other Last Name",
        "Provider Other First Name",
        "Provider Other Middle Name",
        "Provider Other Name Prefix Text",
        "Provider Other Name Suffix Text",
        "Provider Other Credential Text",
        "Provider Other Last Name Type Code",
        "Provider First Line Business Mailing Address",
        "Provider Second Line Business Mailing Address",
        f"{mailing} City Name",
        f"{mailing} State Name",
        f"{mailing} Postal Code",
        f"{mailing} Country Code (If outside U.S.)",
        f"{mailing} Telephone Number",
        f"{mailing} Fax Number",
        "Provider First Line Business Practice Location Address",
        "Provider Second Line Business Practice Location Address",
        f"{practice} City Name",
        f"{practice} State Name",
        f"{practice} Postal Code",
        f"{practice} Country Code (If outside U.S.)",
        f"{practice} Telephone Number",
        f"{practice} Fax Number",
        "Provider Enumeration Date",
        "Last Update Date",
        "NPI Deactivation Reason Code",
        "NPI Deactivation Date",
        "NPI Reactivation Date",
        sex_column,
        "Authorized Official Last Name",
        "Authorized Official First Name",
        "Authorized Official Middle Name",
        "Authorized Official Title or Position",
        "Authorized Official Telephone Number",
    ]
    for n in range(1, 16):
        header += [
            f"Healthcare Provider Taxonomy Code_{n}",
            f"Provider License Number_{n}",
            f"Provider License Number State Code_{n}",
            f"Healthcare Provider Primary Taxonomy Switch_{n}",
        ]
    for n in range(1, 51):
        header += [
            f"Other Provider Identifier_{n}",
            f"Other Provider Identifier Type Code_{n}",
            f"Other Provider Identifier State_{n}",
            f"Other Provider Identifier Issuer_{n}",
        ]
    header += [
        "Is Sole Proprietor",
        "Is Organization Subpart",
        "Parent Organization LBN",
        "Parent Organization TIN",
        "Authorized Official Name Prefix Text",
        "Authorized Official Name Suffix Text",
        "Authorized Official Credential Text",
    ]
    header += [f"Healthcare Provider Taxonomy Group_{n}" for n in range(1, 16)]
    header.append("Certification Date")
    return header


NPPES_HEADER = nppes_header()
assert len(NPPES_HEADER) == 330 and len(CMS_HEADER) == 28


def make_npi(n: int) -> str:
    """Return a valid NPI built from the sequence number `n` (same rule as tests.factories.make_npi)."""
    from directory.models import npi_check_digit

    first_nine = f"{100000000 + n:09d}"
    return first_nine + str(npi_check_digit(first_nine))


def cms_row(npi: str, hcpcs: str, **values) -> list[str]:
    """Return one CMS row for an individual provider in Chicago; keyword arguments override columns.

    Names and addresses are in mixed case, as the Rndrng_ files write them (NPPES writes capitals).
    """
    row = dict.fromkeys(CMS_HEADER, "")
    row.update(
        Rndrng_NPI=npi,
        Rndrng_Prvdr_Last_Org_Name="Smith",
        Rndrng_Prvdr_First_Name="Jane",
        Rndrng_Prvdr_MI="Q",
        Rndrng_Prvdr_Crdntls="M.D.",
        Rndrng_Prvdr_Ent_Cd="I",
        Rndrng_Prvdr_St1="1200 N State St",
        Rndrng_Prvdr_City="Chicago",
        Rndrng_Prvdr_State_Abrvtn="IL",
        Rndrng_Prvdr_State_FIPS="17",
        Rndrng_Prvdr_Zip5="60611",
        Rndrng_Prvdr_RUCA="1",
        Rndrng_Prvdr_RUCA_Desc="Metropolitan area core: primary flow within an urbanized area of 50,000 and greater",
        Rndrng_Prvdr_Cntry="US",
        Rndrng_Prvdr_Type="Orthopedic Surgery",
        Rndrng_Prvdr_Mdcr_Prtcptg_Ind="Y",
        HCPCS_Cd=hcpcs,
        HCPCS_Desc=HCPCS_DESCRIPTIONS.get(hcpcs, "Procedure"),
        HCPCS_Drug_Ind="N",
        Place_Of_Srvc="F",
        Tot_Benes="12",
        Tot_Srvcs="14",
        Tot_Bene_Day_Srvcs="14",
        Avg_Sbmtd_Chrg="4200.5",
        Avg_Mdcr_Alowd_Amt="1020.33",
        Avg_Mdcr_Pymt_Amt="800.12",
        Avg_Mdcr_Stdzd_Amt="790.4",
    )
    row.update(values)
    return [row[name] for name in CMS_HEADER]


def nppes_row(npi: str, *, header=NPPES_HEADER, taxonomies=("207XS0117X",), **values) -> list[str]:
    """Return one NPPES row for an individual; keyword arguments override columns by exact header name."""
    row = dict.fromkeys(header, "")
    row.update(
        {
            "NPI": npi,
            "Entity Type Code": "1",
            "Provider Last Name (Legal Name)": "SMITH",
            "Provider First Name": "JANE",
            "Provider Middle Name": "Q",
            "Provider Credential Text": "M.D.",
            "Provider First Line Business Mailing Address": "PO BOX 100",
            "Provider Business Mailing Address City Name": "CHICAGO",
            "Provider Business Mailing Address State Name": "IL",
            "Provider Business Mailing Address Postal Code": "606110100",
            "Provider Business Mailing Address Country Code (If outside U.S.)": "US",
            "Provider First Line Business Practice Location Address": "1200 N STATE ST",
            "Provider Second Line Business Practice Location Address": "SUITE 400",
            "Provider Business Practice Location Address City Name": "CHICAGO",
            "Provider Business Practice Location Address State Name": "IL",
            "Provider Business Practice Location Address Postal Code": "606111234",
            "Provider Business Practice Location Address Country Code (If outside U.S.)": "US",
            "Provider Business Practice Location Address Telephone Number": "3125550100",
            "Provider Enumeration Date": "05/23/2007",
            "Last Update Date": "07/08/2025",
            header[41]: "F",  # Provider Sex Code / Provider Gender Code
            "Is Sole Proprietor": "N",
        }
    )
    for n, code in enumerate(taxonomies, start=1):
        row[f"Healthcare Provider Taxonomy Code_{n}"] = code
        row[f"Provider License Number_{n}"] = f"036.{100000 + n}"
        row[f"Provider License Number State Code_{n}"] = "IL"
        row[f"Healthcare Provider Primary Taxonomy Switch_{n}"] = "Y" if n == 1 else "N"
        row[f"Healthcare Provider Taxonomy Group_{n}"] = ""
    row.update(values)
    return [row[name] for name in header]


def nppes_deactivated_row(npi: str, on: str = "03/15/2025", *, header=NPPES_HEADER, reason="") -> list[str]:
    """Return the row NPPES publishes for a deactivated NPI: the NPI and the dates, nothing else."""
    row = dict.fromkeys(header, "")
    row.update({"NPI": npi, "NPI Deactivation Date": on, "NPI Deactivation Reason Code": reason})
    return [row[name] for name in header]


def write_csv(path, header: list[str], rows, *, quote_all: bool = False, member: str | None = None) -> Path:
    """Write a .csv, .csv.gz or .zip (holding `member`, by default named like the file) and return the path."""
    path = Path(path)
    quoting = csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL
    if path.suffix == ".zip":
        buffer = io.StringIO()
        writer = csv.writer(buffer, quoting=quoting, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            member = member or path.stem + ".csv"
            archive.writestr(member, buffer.getvalue())
            header_line = ",".join(f'"{name}"' for name in header) + "\n"
            archive.writestr(member.replace(".csv", "_fileheader.csv"), header_line)  # as NPPES ships it
            archive.writestr("othername_pfile_20050523-20251109.csv", "NPI,Provider Other Organization Name\n")
        return path
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, quoting=quoting, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


# --- Large files for the benchmarks ------------------------------------------------------------------

HCPCS_DESCRIPTIONS = {
    "27279": "Arthrodesis, sacroiliac joint, percutaneous or minimally invasive, with image guidance",
    "27278": "Arthrodesis, sacroiliac joint, percutaneous, with image guidance, without placement of transfixation "
    "device",
    "27280": "Arthrodesis, open, sacroiliac joint, including obtaining bone graft",
    "27096": "Injection procedure for sacroiliac joint, anesthetic/steroid, with image guidance",
    "G0260": "Injection procedure for sacroiliac joint; provision of anesthetic, steroid and/or other therapeutic "
    "agent",
    "64451": "Injection(s), anesthetic agent(s) and/or steroid; nerves innervating the sacroiliac joint, with image "
    "guidance",
    "64625": "Radiofrequency ablation, nerves innervating the sacroiliac joint, with image guidance",
    "22612": "Arthrodesis, posterior or posterolateral technique, single interspace; lumbar",
    "22630": "Arthrodesis, posterior interbody technique, single interspace, lumbar",
    "22633": "Arthrodesis, combined posterior or posterolateral technique with posterior interbody technique, lumbar",
    "99213": "Established patient office or other outpatient visit, 20-29 minutes",
    "99214": "Established patient office or other outpatient visit, 30-39 minutes",
    "99204": "New patient office or other outpatient visit, 45-59 minutes",
    "99232": "Subsequent hospital inpatient or observation care, per day",
    "20610": "Arthrocentesis, aspiration and/or injection, major joint or bursa",
    "97110": "Therapeutic exercise to develop strength, endurance, range of motion, and flexibility",
    "G0439": "Annual wellness visit, includes a personalized prevention plan of service, subsequent visit",
    "36415": "Insertion of needle into vein for collection of blood sample",
    "93000": "Electrocardiogram, routine ECG with at least 12 leads",
    "71046": "X-ray of chest, 2 views",
    "72148": "MRI scan of lower spinal canal",
    "62323": "Injection(s), of diagnostic or therapeutic substance(s), lumbar or sacral, with imaging guidance",
}
RELEVANT_CODES = ["27279", "27278", "27280", "27096", "G0260", "64451", "64625", "22612", "22630", "22633"]
OTHER_CODES = [code for code in HCPCS_DESCRIPTIONS if code not in RELEVANT_CODES]
LAST_NAMES = ["SMITH", "JOHNSON", "WILLIAMS", "BROWN", "JONES", "GARCIA", "MILLER", "DAVIS", "NGUYEN", "PATEL", "KIM"]
LAST_NAMES += ["O'DONNELL", "MCDONALD", "SMITH-JONES"]
FIRST_NAMES = ["JAMES", "MARY", "ROBERT", "PATRICIA", "JOHN", "JENNIFER", "MICHAEL", "LINDA", "DAVID", "PRIYA", "WEI"]
PLACES = [
    ("CHICAGO", "IL", "60611"),
    ("HOUSTON", "TX", "77030"),
    ("NEW YORK", "NY", "10016"),
    ("DENVER", "CO", "80218"),
]
PLACES += [("SEATTLE", "WA", "98104"), ("ATLANTA", "GA", "30308"), ("BOSTON", "MA", "02115"), ("MIAMI", "FL", "33136")]
CMS_TYPES = [
    "Internal Medicine",
    "Family Practice",
    "Orthopedic Surgery",
    "Neurosurgery",
    "Interventional Pain Management",
]
CMS_TYPES += ["Physical Medicine and Rehabilitation", "Diagnostic Radiology", "Nurse Practitioner", "Cardiology"]
SPINE_SHARE = 0.04  # providers who bill SI-joint / lumbar-fusion codes at all
SPINE_ROW_SHARE = 0.5  # of those providers' rows, the share with a relevant code: ≈ 2% of all rows


def _line(values) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()


def generate_cms(path, rows: int, *, seed: int = 2024) -> Path:
    """Write a CMS-shaped file of `rows` rows: ~8 rows per provider, sorted by NPI, ≈2% relevant rows."""
    from tqdm import tqdm

    rng = random.Random(seed)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as handle, tqdm(total=rows, unit=" rows", desc="CMS") as bar:
        handle.write(_line(CMS_HEADER))
        written, provider = 0, 0
        while written < rows:
            provider += 1
            city, state, zip_code = rng.choice(PLACES)
            spine = rng.random() < SPINE_SHARE
            entity = "I" if rng.random() < 0.95 else "O"
            prefix = _line(
                [
                    make_npi(provider),
                    rng.choice(LAST_NAMES).title() if entity == "I" else f"{city.title()} Spine Center LLC",
                    rng.choice(FIRST_NAMES).title() if entity == "I" else "",
                    rng.choice("ABCDEFGHJKLMNPRSTW") if entity == "I" else "",
                    rng.choice(["M.D.", "MD", "D.O.", "NP", "PA-C"]) if entity == "I" else "",
                    entity,
                    f"{rng.randint(1, 9999)} {rng.choice(['N State St', 'Main St', 'Medical Center Dr', 'Oak Ave'])}",
                    rng.choice(["", "", "Suite 200", "Floor 3"]),
                    city.title(),
                    state,
                    "17",
                    zip_code,
                    "1",
                    "Metropolitan area core: primary flow within an urbanized area of 50,000 and greater",
                    "US",
                    rng.choice(CMS_TYPES[2:7] if spine else CMS_TYPES),
                    "Y",
                ]
            ).rstrip("\n")
            count = min(rng.randint(1, 15), rows - written)
            codes = sorted(
                rng.choice(RELEVANT_CODES) if spine and rng.random() < SPINE_ROW_SHARE else rng.choice(OTHER_CODES)
                for _ in range(count)
            )
            lines = []
            for code in codes:
                benes = rng.randint(11, 400)
                services = benes + rng.randint(0, benes)
                charge = rng.uniform(50, 9000)
                lines.append(
                    prefix
                    + ","
                    + _line(
                        [
                            code,
                            HCPCS_DESCRIPTIONS[code],
                            "N",
                            rng.choice("FO"),
                            benes,
                            services,
                            services,
                            f"{charge:.2f}",
                            f"{charge * 0.3:.2f}",
                            f"{charge * 0.24:.2f}",
                            f"{charge * 0.23:.2f}",
                        ]
                    )
                )
            handle.write("".join(lines))
            written += count
            bar.update(count)
    return path


NPPES_OTHER_TAXONOMIES = ["207Q00000X", "207R00000X", "363L00000X", "1223G0001X", "174400000X", "225100000X"]
NPPES_RELEVANT_SHARE = 0.02


def generate_nppes(path, rows: int, *, seed: int = 2025) -> Path:
    """Write an NPPES-shaped file: every field quoted, ~75% individuals, ~3% deactivated, ≈2% relevant."""
    from tqdm import tqdm

    from directory.importers.nppes import TAXONOMIES

    relevant = list(TAXONOMIES)
    rng = random.Random(seed)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    index = {name: position for position, name in enumerate(NPPES_HEADER)}
    with open(path, "w", encoding="utf-8", newline="") as handle, tqdm(total=rows, unit=" rows", desc="NPPES") as bar:
        writer = csv.writer(handle, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(NPPES_HEADER)
        for n in range(1, rows + 1):
            npi = make_npi(5_000_000 + n)
            roll = rng.random()
            if roll < 0.03:
                writer.writerow(nppes_deactivated_row(npi, f"0{rng.randint(1, 9)}/15/20{rng.randint(10, 24)}"))
                bar.update()
                continue
            row = [""] * len(NPPES_HEADER)
            city, state, zip_code = rng.choice(PLACES)
            values = {
                "NPI": npi,
                "Provider Enumeration Date": f"0{rng.randint(1, 9)}/1{rng.randint(0, 9)}/20{rng.randint(5, 24):02d}",
                "Last Update Date": "07/08/2025",
                "Provider First Line Business Practice Location Address": f"{rng.randint(1, 9999)} MAIN ST",
                "Provider Business Practice Location Address City Name": city,
                "Provider Business Practice Location Address State Name": state,
                "Provider Business Practice Location Address Postal Code": zip_code + f"{rng.randint(0, 9999):04d}",
                "Provider Business Practice Location Address Country Code (If outside U.S.)": "US",
                "Provider Business Practice Location Address Telephone Number": f"312555{rng.randint(0, 9999):04d}",
                "Provider First Line Business Mailing Address": f"PO BOX {rng.randint(1, 9999)}",
                "Provider Business Mailing Address City Name": city,
                "Provider Business Mailing Address State Name": state,
                "Provider Business Mailing Address Postal Code": zip_code,
                "Provider Business Mailing Address Country Code (If outside U.S.)": "US",
            }
            if roll < 0.78:
                values |= {
                    "Entity Type Code": "1",
                    "Provider Last Name (Legal Name)": rng.choice(LAST_NAMES),
                    "Provider First Name": rng.choice(FIRST_NAMES),
                    "Provider Middle Name": rng.choice(["", "A", "LEE"]),
                    "Provider Credential Text": rng.choice(["M.D.", "MD", "D.O.", "NP", "DDS", "PT"]),
                    "Provider Sex Code": rng.choice("FM"),
                    "Is Sole Proprietor": rng.choice("NYX"),
                }
                share = NPPES_RELEVANT_SHARE / 0.75
                codes = [rng.choice(relevant if rng.random() < share else NPPES_OTHER_TAXONOMIES)]
                codes += rng.sample(NPPES_OTHER_TAXONOMIES, rng.randint(0, 2))
            else:
                values |= {
                    "Entity Type Code": "2",
                    "Provider Organization Name (Legal Business Name)": f"{city} MEDICAL GROUP {n}",
                    "Employer Identification Number (EIN)": "<UNAVAIL>",
                    "Authorized Official Last Name": rng.choice(LAST_NAMES),
                    "Authorized Official First Name": rng.choice(FIRST_NAMES),
                    "Authorized Official Title or Position": "CEO",
                    "Authorized Official Telephone Number": "3125550199",
                    "Is Organization Subpart": "N",
                }
                codes = ["261QM1300X"]
            for name, value in values.items():
                row[index[name]] = value
            for slot, code in enumerate(codes, start=1):
                row[index[f"Healthcare Provider Taxonomy Code_{slot}"]] = code
                row[index[f"Provider License Number_{slot}"]] = f"{rng.randint(10000, 999999)}"
                row[index[f"Provider License Number State Code_{slot}"]] = state
                row[index[f"Healthcare Provider Primary Taxonomy Switch_{slot}"]] = "Y" if slot == 1 else "N"
            if rng.random() < 0.4:
                row[index["Other Provider Identifier_1"]] = f"{rng.randint(100000, 999999)}"
                row[index["Other Provider Identifier Type Code_1"]] = "05"
                row[index["Other Provider Identifier State_1"]] = state
            writer.writerow(row)
            bar.update()
    return path


if __name__ == "__main__":
    import os

    import django

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    django.setup()
    kind, count = sys.argv[1], int(sys.argv[2])
    data = Path(__file__).resolve().parent / "data"
    if kind == "cms":
        print(generate_cms(data / "MUP_PHY_R24_P05_V10_D24_Prov_Svc.csv", count))
    elif kind == "nppes":
        print(generate_nppes(data / "npidata_pfile_20050523-20251109.csv", count))
    else:
        sys.exit("usage: python bench/public_files.py cms|nppes ROWS")
