from django import template

from directory import geo

register = template.Library()


@register.filter
def distance(miles, exact=False):
    """{{ match.distance_miles|distance:match.practice.has_exact_location }} → "about 3 miles" or "2.4 miles"."""
    return geo.describe_distance(float(miles), bool(exact))
