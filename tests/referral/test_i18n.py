"""Spanish patient pages: the message catalogue is complete and consistent, and each page renders in Spanish."""

import datetime
import re
from html.parser import HTMLParser
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from directory.forms import ProfileReportForm
from directory.models import Insurance, ProfileReport
from tests.factories import PracticeFactory, ProcedureVolumeFactory, SpecialistFactory

CATALOGUE = Path(settings.BASE_DIR) / "locale" / "es" / "LC_MESSAGES"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
# Words that Spanish text never has (as whole words) but nearly every English sentence does.
ENGLISH_WORDS = re.compile(r"\b(the|and|with|your|you|of|for|is|are|not|from|within|miles|this|near)\b", re.I)


def catalogue():
    return polib.pofile(str(CATALOGUE / "django.po"))


def texts(entry):
    return list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]


def test_every_message_is_translated_and_none_is_fuzzy():
    entries = [entry for entry in catalogue() if not entry.obsolete]
    assert len(entries) > 250
    assert [entry.msgid for entry in entries if "fuzzy" in entry.flags] == []
    assert [entry.msgid for entry in entries if not all(text.strip() for text in texts(entry))] == []


def test_placeholders_match_between_english_and_spanish():
    for entry in catalogue():
        expected = set(PLACEHOLDER.findall(entry.msgid))
        for text in texts(entry):
            assert set(PLACEHOLDER.findall(text)) == expected, entry.msgid
        # Markup in a message (the guide's <strong>, a link) survives translation.
        assert [text.count("<") for text in texts(entry)] == [entry.msgid.count("<")] * len(texts(entry)), entry.msgid


def test_the_committed_mo_is_the_compiled_po():
    compiled = {(e.msgctxt, e.msgid): texts(e) for e in polib.mofile(str(CATALOGUE / "django.mo"))}
    source = {(e.msgctxt, e.msgid): texts(e) for e in catalogue() if not e.obsolete}
    assert compiled == source, 'run: .venv/bin/python -c "import polib; polib.pofile(PO).save_as_mofile(MO)"'


def test_the_report_form_states_the_real_length_limit():
    with translation.override("es"):
        help_text = str(ProfileReportForm.base_fields["details"].help_text)
    assert f"hasta {ProfileReport.DETAILS_MAX_LENGTH} caracteres" in help_text


class TextNodes(HTMLParser):
    """The visible text of a page (no script, style or JSON), and its <html lang>."""

    def __init__(self):
        super().__init__()
        self.nodes, self.lang, self.skip = [], None, 0

    def handle_starttag(self, tag, attrs):
        if tag == "html":
            self.lang = dict(attrs).get("lang")
        if tag in ("script", "style"):
            self.skip += 1
        for name, value in attrs:
            if name in ("aria-label", "title", "alt", "placeholder") and value:
                self.nodes.append(value)

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip and data.strip():
            self.nodes.append(" ".join(data.split()))


@pytest.fixture
def directory(db):
    """Two specialists near 60611 with neutral, language-free data (names and places are not translated)."""
    practice = PracticeFactory(name="Lakeshore Demo", address_line1="100 Calle Uno", zip_code="60611")
    first = SpecialistFactory(
        first_name="Ana",
        last_name="Ruiz",
        languages="English; Spanish",
        offers_mis_si_fusion=True,
        offers_diagnostic_si_injection=True,
        accepting_new_patients=True,
        practices=[practice],
    )
    second = SpecialistFactory(first_name="Luis", last_name="Mora", practices=[PracticeFactory(name="Norte Demo")])
    ProcedureVolumeFactory(specialist=first, count=34)
    return first, second


def spanish_page(client, url, status=200):
    response = client.get(url, HTTP_ACCEPT_LANGUAGE="es")
    assert response.status_code == status, url
    page = TextNodes()
    page.feed(response.content.decode())
    return response, page


def patient_urls(first, second):
    return [
        reverse("referral:home"),
        reverse("referral:search"),
        reverse("referral:search") + "?zip=60611&diagnostic_injection=not_done&conservative_months=3",
        reverse("referral:search") + "?zip=abc",
        reverse("referral:about"),
        first.get_absolute_url() + "?zip=60611",
        reverse("referral:compare") + f"?ids={first.pk}&ids={second.pk}&zip=60611",
        reverse("referral:compare") + "?ids=1",
    ]


def test_spanish_pages_have_no_untranslated_english(client, directory):
    for url in patient_urls(*directory):
        _response, page = spanish_page(client, url)
        assert page.lang == "es", url
        english = [node for node in page.nodes if ENGLISH_WORDS.search(node)]
        # Shown as the browser offers it: the switcher names English in English.
        english = [node for node in english if "read this page in English" not in node]
        assert english == [], url


def test_search_results_read_in_spanish(client, directory):
    response, page = spanish_page(client, reverse("referral:search") + "?zip=60611")
    text = " ".join(page.nodes)
    assert response["Content-Language"] == "es"
    assert "Accept-Language" in response["Vary"]
    assert "2 especialistas a menos de 50 millas" in text
    assert "34 fusiones mínimamente invasivas de la articulación SI" in text
    month = r"(ene|feb|mar|abr|may|jun|jul|ago|sept?|oct|nov|dic)"
    assert re.search(rf"\b{month}–{month} \d{{4}}", text)
    assert "A unas" in text or "A aproximadamente" in text


def test_errors_render_in_spanish(client, db):
    _response, page = spanish_page(client, "/no-such-page/", status=404)
    assert page.lang == "es" and "Página no encontrada" in page.nodes


def test_the_switcher_keeps_the_page_and_its_query(client, directory):
    url = reverse("referral:search") + "?zip=60611&radius=25"
    response = client.post(reverse("set_language"), {"language": "es", "next": url})
    assert response.status_code == 302 and response["Location"] == url
    assert "especialistas" in client.get(url).content.decode()
    page = client.get(url).content.decode()
    assert 'name="language" value="en"' in page and f'name="next" value="{url.replace("&", "&amp;")}"' in page


@pytest.mark.parametrize("path", ["/api/v1/search?zip=60611", "/admin/login/"])
def test_the_api_and_admin_stay_english(client, directory, path):
    response = client.get(path, HTTP_ACCEPT_LANGUAGE="es")
    assert response["Content-Language"] == "en"
    assert "especialista" not in response.content.decode().lower()


def test_speaks_spanish_filter_on_the_page_and_the_api(client, directory):
    first, second = directory
    page = client.get(reverse("referral:search") + "?zip=60611&speaks_spanish=on").content.decode()
    assert first.full_name in page and second.full_name not in page
    found = client.get("/api/v1/search?zip=60611&speaks_spanish=true").json()
    assert [item["id"] for item in found["results"]] == [first.pk]


def test_insurance_names_that_are_words_read_in_spanish_and_carriers_keep_their_names(client, directory):
    first, _second = directory
    practice = first.practices.get()
    practice.insurance_confirmed_on = datetime.date(2025, 11, 3)
    practice.save()
    practice.insurance.set(Insurance.objects.filter(code__in=["medicare", "self_pay"]))
    _response, page = spanish_page(client, reverse("referral:search") + "?zip=60611")
    text = " ".join(page.nodes)
    assert "Medicare, Pago por cuenta propia (sin seguro)" in text
    assert "Self-pay" not in text
    assert "Indemnización por accidente laboral" in text  # the filter's choices
    # The data itself stays as curated: the API and the admin name it in English.
    found = client.get("/api/v1/search?zip=60611", HTTP_ACCEPT_LANGUAGE="es").json()
    accepted = [entry["name"] for entry in found["results"][0]["practice"]["insurance"]["accepted"]]
    assert accepted == ["Medicare", "Self-pay (no insurance)"]


@pytest.mark.parametrize(
    "zip_code, spanish",
    [
        ("abcde", "Los códigos ZIP tienen 5 dígitos (o ZIP+4, como 60611-1234)."),
        ("00000", "No existe el código ZIP 00000 en EE. UU."),
        ("09001", "09001 es una dirección militar (APO/FPO/DPO) sin ubicación fija; escriba el código ZIP de donde"),
    ],
)
def test_a_zip_that_cannot_be_searched_is_explained_in_spanish(client, db, zip_code, spanish):
    _response, page = spanish_page(client, reverse("referral:search") + f"?zip={zip_code}")
    text = " ".join(page.nodes)
    assert spanish in text
    assert "ZIP codes have" not in text and "No such US ZIP" not in text and "military" not in text
