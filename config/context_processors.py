from django.conf import settings

from config.i18n import is_patient_path


def map_tiles(request):
    """The results map's optional tile layer (SIJ_MAP_TILE_URL); an empty URL means no tiles."""
    return {"map_tiles": {"url": settings.SIJ_MAP_TILE_URL, "attribution": settings.SIJ_MAP_TILE_ATTRIBUTION}}


def patient_page(request):
    """Whether this page is one of the patient pages, which show the language switcher (config/i18n.py)."""
    return {"patient_page": is_patient_path(request.path_info)}
