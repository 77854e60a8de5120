"""Which language a page is in: the patient pages in English or Spanish, everything else in English.

Patient pages follow the language chosen with the switcher (Django's set_language view keeps it in the
`django_language` cookie), else the browser's Accept-Language, else English. The JSON API and FHIR stay English
whatever the request says (a stable contract for programs: docs/api.md), and so do the curators' admin and the
referring physicians' pages (docs/architecture.md, "Languages").
"""

from django.conf import settings
from django.middleware.locale import LocaleMiddleware
from django.utils import translation

ENGLISH_ONLY_PREFIXES = ("/api/", "/fhir/", "/admin/", "/accounts/", "/shortlists/")


def is_patient_path(path: str) -> bool:
    return not path.startswith(ENGLISH_ONLY_PREFIXES)


class PatientLocaleMiddleware(LocaleMiddleware):
    """Django's LocaleMiddleware on the patient pages; English, with no Vary on Accept-Language, elsewhere."""

    def process_request(self, request):
        if is_patient_path(request.path_info):
            return super().process_request(request)
        translation.activate(settings.LANGUAGE_CODE)
        request.LANGUAGE_CODE = settings.LANGUAGE_CODE
        return None

    def process_response(self, request, response):
        if is_patient_path(request.path_info):
            return super().process_response(request, response)
        response.headers.setdefault("Content-Language", settings.LANGUAGE_CODE)
        return response
