"""Unread inbox count for the navigation bar (owned by notifications)."""


def inbox(request):
    return {}
