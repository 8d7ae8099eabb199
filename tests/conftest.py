"""Shared test setup.

* The database under test is chosen by ``QCARE_DATABASE_URL`` (unset → SQLite);
  ``scripts/test`` runs the suite once per database in CI.
* ``QCARE_REQUIRE_ALL=1`` (CI) turns "skip: Chromium/PostgreSQL not available" into a
  failure, so nothing is silently skipped. Tests that are specific to one database engine
  (``@pytest.mark.postgres_only`` / ``sqlite_only``) are deselected on the other engine's
  run — CI runs both, so each runs once.
"""

import os

import pytest
from django.db import connection

REQUIRE_ALL = os.environ.get("QCARE_REQUIRE_ALL") == "1"

pytest_plugins = ["tests.personas", "tests.browser_support"]


def skip_or_fail(reason):
    """Skip with a visible reason by hand; fail under QCARE_REQUIRE_ALL=1 (CI)."""
    if REQUIRE_ALL:
        pytest.fail(f"QCARE_REQUIRE_ALL=1 but: {reason}")
    pytest.skip(reason)


def pytest_configure(config):
    config.addinivalue_line("markers", "postgres_only: only meaningful on PostgreSQL")
    config.addinivalue_line("markers", "sqlite_only: only meaningful on SQLite")


def pytest_collection_modifyitems(config, items):
    vendor = "postgresql" if os.environ.get("QCARE_DATABASE_URL", "").startswith("postgres") else "sqlite"
    keep, drop = [], []
    for item in items:
        if (
            vendor == "sqlite"
            and item.get_closest_marker("postgres_only")
            or vendor == "postgresql"
            and item.get_closest_marker("sqlite_only")
        ):
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture
def db_vendor(db):
    return connection.vendor


@pytest.fixture(autouse=True)
def _fresh_process_caches():
    """Per-process caches (policies, calendar rules, permission registry state) never leak between tests."""
    from qcare.core import policies
    from qcare.workcalendar import rules

    policies.clear_cache()
    rules.clear_cache()
    yield
    policies.clear_cache()
    rules.clear_cache()


@pytest.fixture(autouse=True)
def _reset_language():
    """Each test starts in the company language: a request in one test (e.g. an API call with
    Accept-Language: en) leaves its language active in the thread, as Django does per request."""
    from django.utils import translation

    yield
    translation.deactivate()
