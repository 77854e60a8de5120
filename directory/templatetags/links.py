from django import template

from directory import links

register = template.Library()


@register.filter
def safe_url(value):
    """The http(s) URL of `value`, or "" when it must not be a link (e.g. `javascript:`)."""
    return links.safe_url(value) or ""


@register.filter
def directions_url(practice):
    """The directions link to a practice's street address ("" when there is none or directions are off)."""
    return links.directions_url(practice)
