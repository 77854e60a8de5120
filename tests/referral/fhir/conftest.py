import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_rate_limit():
    """The FHIR rate limit counts per address in the cache; each test starts with none used."""
    cache.clear()
    yield
    cache.clear()
