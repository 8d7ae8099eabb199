"""Registries the UI shell reads: navigation entries and "my tasks" providers.

Apps register in their ``AppConfig.ready()``::

    from qcare.core import ui
    ui.nav.register("sample", _("Sample records"), "sample:list", permission="sample.view")
    ui.tasks.register("sample.approve", _("Samples to approve"), samples_awaiting_approval)

A task provider is ``provider(user)`` returning either a list of task dicts
(``title``, ``url``, ``due_at``, ``overdue``, ``kind``) or a dict ``{"count": n, "url": …}``
for a summary line. Providers must use ``restrict()`` so a user only sees their own work.
"""

import logging
from dataclasses import dataclass, field

from django.urls import NoReverseMatch, reverse

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NavEntry:
    """One entry of the top navigation bar."""

    key: str
    label: str
    url_name: str
    permission: str | None = None
    icon: str | None = None
    order: int = 100
    group: str | None = None

    def url(self):
        try:
            return reverse(self.url_name)
        except NoReverseMatch:
            return None


class NavRegistry:
    """Navigation entries by key; visible only to users holding ``permission``."""

    def __init__(self):
        self._entries = {}

    def register(self, key, label, url_name, permission=None, icon=None, order=100, group=None):
        # Re-registering a key replaces it, so a reloaded app never duplicates its entry.
        self._entries[key] = NavEntry(key, label, url_name, permission, icon, order, group)

    def unregister(self, key):
        self._entries.pop(key, None)

    def all(self):
        return sorted(self._entries.values(), key=lambda e: (e.order, e.key))

    def for_user(self, user):
        """Entries ``user`` may see, as dicts ready for the template (label, url, active key)."""
        from qcare.accounts.permissions import has_perm

        if user is None or not user.is_authenticated:
            return []
        visible = []
        for entry in self.all():
            if entry.permission and not has_perm(user, entry.permission):
                continue
            url = entry.url()
            if url:
                visible.append(
                    {
                        "key": entry.key,
                        "label": entry.label,
                        "url": url,
                        "icon": entry.icon,
                        "group": entry.group,
                    }
                )
        return visible


@dataclass
class TaskGroup:
    """What one provider returned for one user, ready for the dashboard."""

    key: str
    label: str
    items: list = field(default_factory=list)
    count: int = 0
    url: str | None = None


class TaskRegistry:
    """ "My tasks" providers by key; the dashboard asks each one for the current user."""

    def __init__(self):
        self._providers = {}

    def register(self, key, label, provider):
        self._providers[key] = (label, provider)

    def unregister(self, key):
        self._providers.pop(key, None)

    def for_user(self, user):
        """Non-empty task groups for ``user``; a failing provider is logged, not fatal."""
        groups = []
        for key, (label, provider) in sorted(self._providers.items()):
            try:
                result = provider(user)
            except Exception:
                # One broken app must not take the whole dashboard down.
                logger.exception("task provider %s failed", key)
                continue
            group = _to_group(key, label, result)
            if group.count:
                groups.append(group)
        return groups


def _to_group(key, label, result):
    if isinstance(result, dict):
        return TaskGroup(key, label, count=int(result.get("count") or 0), url=result.get("url"))
    items = list(result or [])
    for item in items:
        item.setdefault("overdue", False)
        item.setdefault("due_at", None)
        item.setdefault("kind", key)
    return TaskGroup(key, label, items=items, count=len(items))


nav = NavRegistry()
tasks = TaskRegistry()
