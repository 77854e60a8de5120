"""Template tags for the "add to shortlist" form under each search result."""

from django import template

from shortlists.models import Shortlist
from shortlists.views import is_referring_physician

register = template.Library()


@register.simple_tag(takes_context=True)
def shortlist_choices(context):
    """Return the signed-in physician's [(id, title)], most recently changed first; None for everyone else.

    Computed once per request however many results include the form (no query per result).
    """
    request = context.get("request")
    if request is None:
        return None
    if not hasattr(request, "_shortlist_choices"):
        user = request.user
        request._shortlist_choices = (
            list(Shortlist.objects.owned_by(user).values_list("pk", "title")) if is_referring_physician(user) else None
        )
    return request._shortlist_choices


@register.filter
def minutes(delta) -> int:
    """Return a timedelta in whole minutes, rounded up (for "try again in N minutes")."""
    return -(-int(delta.total_seconds()) // 60) if delta else 0
