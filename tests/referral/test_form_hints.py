"""The search form on a phone: a number pad and autofill for the ZIP, one line on why each question is asked."""

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

SITUATION_FIELDS = ("diagnostic_injection", "conservative_months", "prior_lumbar_fusion")


@pytest.mark.parametrize(
    "url", [reverse("referral:home"), reverse("referral:search"), reverse("referral:search") + "?zip=60611"]
)
def test_zip_input_asks_for_a_number_pad_and_the_saved_postal_code(client, url):
    html = client.get(url).content.decode()
    zip_input = re.search(r'<input[^>]*name="zip"[^>]*>', html).group(0)
    assert 'inputmode="numeric"' in zip_input
    assert 'autocomplete="postal-code"' in zip_input


@pytest.mark.parametrize("url", [reverse("referral:home"), reverse("referral:search") + "?zip=60611"])
@pytest.mark.parametrize("name", SITUATION_FIELDS)
def test_each_situation_question_says_why_it_is_asked_next_to_it(client, url, name):
    html = client.get(url).content.decode()
    hint = re.search(rf'<p class="help" id="id_{name}_helptext">([^<]*)</p>', html)
    assert hint, f"no help line for {name}"
    assert "Why we ask:" in hint.group(1)
    control = re.search(rf'<(?:select|input)[^>]*name="{name}"[^>]*>', html).group(0)
    assert f'aria-describedby="id_{name}_helptext"' in control  # screen readers read the line with the question


def test_why_lines_describe_the_ordering_and_never_diagnose(client):
    html = client.get(reverse("referral:home")).content.decode()
    lines = re.findall(r'<p class="help" id="id_\w+_helptext">([^<]*)</p>', html)
    why = [line for line in lines if "Why we ask:" in line]
    assert len(why) == len(SITUATION_FIELDS)
    for line in why:
        assert "come first" in line  # says what the answer changes: the order
        for advice in ("you need", "you should", "you have SI", "your pain is"):  # never a diagnosis or advice
            assert advice not in line
