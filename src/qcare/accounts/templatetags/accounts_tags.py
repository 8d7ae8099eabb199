"""Small helpers for the accounts templates (the lockout page's retry time)."""

from django import template
from django.utils import timezone

register = template.Library()


@register.simple_tag
def retry_time(cooloff):
    """The local time at which a locked-out sign-in may be retried."""
    return timezone.localtime(timezone.now() + cooloff)


@register.filter
def minutes(delta):
    """A timedelta in whole minutes (rounded up, at least 1)."""
    seconds = int(delta.total_seconds())
    return max(1, -(-seconds // 60))
