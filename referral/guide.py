"""What every page and the PDF referral sheet tell patients: the disclaimer and the questions to ask.

The one home of that text. Templates read it through the `guide` context processor (templates/disclaimer.html,
the guide's questions, the shared shortlist page); shortlists.exports.pdf and the profile page call the
functions here. Translated (locale/es): lazily, so that each request gets its own language.
"""

from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy

DISCLAIMER_LEAD = gettext_lazy("Not medical advice.")
DISCLAIMER_BODY = gettext_lazy(
    "SIJ Finder describes specialists and what they offer; it does not diagnose or recommend treatment. "
    "Talk with a qualified clinician about your symptoms. In an emergency, call 911."
)
DISCLAIMER = format_lazy("{} {}", DISCLAIMER_LEAD, DISCLAIMER_BODY)


def questions_to_ask(specialist=None) -> list[str]:
    """Return the questions to ask a specialist; tailored to what `specialist` offers when given."""
    operates = specialist is None or specialist.offers_mis_si_fusion or specialist.offers_open_si_fusion
    confirms = specialist is not None and specialist.offers_diagnostic_si_injection
    return [
        gettext("How many patients with SI-joint problems have you treated or operated on in the past year?")
        if operates
        else gettext("How many patients with SI-joint problems have you treated in the past year?"),
        gettext(
            "How will you confirm that my pain comes from the SI joint and not from my lumbar spine or hip, for "
            "example with an image-guided diagnostic injection?"
        )
        if confirms
        else gettext("How will you confirm that my pain comes from the SI joint and not from my lumbar spine or hip?"),
        gettext("Which non-surgical options should I try first, and for how long?"),
        gettext("If I need surgery, would you recommend a minimally invasive or an open fusion for me, and why?"),
    ]


def guide(request) -> dict:
    """Context processor: the disclaimer and the general questions to ask, for every template."""
    return {
        "disclaimer_lead": DISCLAIMER_LEAD,
        "disclaimer_body": DISCLAIMER_BODY,
        "questions_to_ask": questions_to_ask(),
    }
