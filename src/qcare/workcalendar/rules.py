"""Which dates are working days at a site, and the site's rules loaded once and cached.

A date's working periods are decided in this order (first match wins):

1. a :class:`~qcare.workcalendar.models.CalendarOverride` of the site (holiday / working day);
2. the national calendar of the site's country — for CN the ``chinesecalendar`` package
   (public holidays *and* adjusted working days, 调休) for the years it covers, otherwise
   the ``holidays`` package (public holidays only, no adjusted working days);
3. the site's weekly working periods.

A working day that falls on a weekday without periods (an adjusted working Saturday) uses
the periods of the site's first weekday that has some (normally Monday).
"""

import datetime as dt
import functools
import logging
import math
import threading
import time
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import chinese_calendar
import holidays as holidays_pkg
from django.conf import settings
from django.db.models import Count, Max

from qcare.workcalendar.models import WEEKDAY_KEYS, OverrideKind, default_working_periods, parse_hhmm

logger = logging.getLogger(__name__)

HOLIDAY = OverrideKind.HOLIDAY.value
WORKING_DAY = OverrideKind.WORKING_DAY.value

#: Seconds between checks of the calendar tables' stamp; a change committed by another
#: process is seen at most this long afterwards (``settings.QCARE_CALENDAR_CACHE_SECONDS``).
DEFAULT_STAMP_SECONDS = 1


@dataclass(frozen=True)
class NationalCalendar:
    """Holidays and adjusted working days of one country in one year, and where they came from."""

    holidays: frozenset
    working_days: frozenset
    source: str  # "chinesecalendar", "holidays" or "holidays-fallback" (CN year not covered)


def chinesecalendar_years():
    """The years the installed ``chinesecalendar`` knows (holidays and 调休)."""
    return sorted({day.year for day in chinese_calendar.constants.holidays})


@functools.lru_cache(maxsize=256)
def national_calendar(country, year):
    """Holidays / adjusted working days for ``country`` in ``year`` (cached per country and year)."""
    country = country.upper()
    if country == "CN" and year in chinesecalendar_years():
        consts = chinese_calendar.constants
        return NationalCalendar(
            holidays=frozenset(d for d in consts.holidays if d.year == year),
            working_days=frozenset(d for d in consts.workdays if d.year == year),
            source="chinesecalendar",
        )
    try:
        days = holidays_pkg.country_holidays(country, years=year)
    except NotImplementedError:
        logger.warning("no public holidays known for country %s; only weekends apply", country)
        return NationalCalendar(frozenset(), frozenset(), "none")
    source = "holidays"
    if country == "CN":
        # Without the official notice there are no adjusted working days; say so loudly.
        logger.warning(
            "chinesecalendar %s has no data for %s: using statutory holidays from 'holidays' "
            "without adjusted working days (调休). Upgrade chinesecalendar.",
            chinese_calendar.__version__,
            year,
        )
        source = "holidays-fallback"
    return NationalCalendar(frozenset(days), frozenset(), source)


def _periods_of(day_periods):
    return tuple((parse_hhmm(start), parse_hhmm(end)) for start, end in day_periods or ())


@dataclass(frozen=True)
class SiteRules:
    """Everything the calendar functions need about one site, without touching the database."""

    code: str = "HQ"
    time_zone: str = "Asia/Shanghai"
    country: str = "CN"
    #: Per weekday (Mon=0) a tuple of (start_minute, end_minute).
    weekly: tuple = field(default_factory=lambda: rules_weekly(default_working_periods()))
    #: date → "holiday" / "working_day"
    overrides: dict = field(default_factory=dict, hash=False, compare=False)
    #: date → working intervals as UTC instants, filled by the calendar functions. Lives as
    #: long as this object (cached rules are rebuilt whenever the calendar tables change).
    day_cache: dict = field(default_factory=dict, hash=False, compare=False, repr=False)

    @property
    def tz(self):
        return _zone(self.time_zone)

    @property
    def standard_day(self):
        """Periods used on an adjusted working day whose weekday normally has none."""
        return next((periods for periods in self.weekly if periods), ())

    def periods_on(self, date):
        """Working periods (minute pairs, local time) of ``date``; empty on a non-working day."""
        kind = self.overrides.get(date) or self._national_kind(date)
        if kind == HOLIDAY:
            return ()
        weekly = self.weekly[date.weekday()]
        if kind == WORKING_DAY:
            return weekly or self.standard_day
        return weekly

    def _national_kind(self, date):
        national = _year_days(self, date.year)
        if date in national.holidays:
            return HOLIDAY
        if date in national.working_days:
            return WORKING_DAY
        return None


def _year_days(rules, year):
    return national_calendar(rules.country, year)


@functools.lru_cache(maxsize=64)
def _zone(name):
    return ZoneInfo(name)


def rules_weekly(working_periods):
    """The model's JSON ({"mon": [["08:30", "12:00"], …]}) as a tuple per weekday."""
    return tuple(_periods_of(working_periods.get(key)) for key in WEEKDAY_KEYS)


def rules_from_site(site):
    """Build :class:`SiteRules` from a Site row, loading its overrides (one query)."""
    overrides = dict(site.overrides.values_list("date", "kind")) if site.pk else {}
    return SiteRules(
        code=site.code,
        time_zone=site.time_zone,
        country=site.country,
        weekly=rules_weekly(site.working_periods),
        overrides=overrides,
    )


_cache = {}
_cache_lock = threading.Lock()
_stamp = {"value": None, "checked_at": -math.inf}


def clear_cache():
    """Forget every cached site (called when a site or an override changes, and by tests)."""
    with _cache_lock:
        _cache.clear()
        _stamp.update(value=None, checked_at=-math.inf)


def _tables_stamp():
    """(rows, latest change) of sites and overrides: changes when anything is added, edited
    or deleted — also by another process, and back again when a transaction rolls back."""
    from qcare.workcalendar.models import CalendarOverride, Site

    sites = Site.objects.aggregate(n=Count("id"), last=Max("updated_at"))
    overrides = CalendarOverride.objects.aggregate(n=Count("id"), last=Max("updated_at"))
    return (sites["n"], sites["last"], overrides["n"], overrides["last"])


def _drop_if_tables_changed():
    interval = getattr(settings, "QCARE_CALENDAR_CACHE_SECONDS", DEFAULT_STAMP_SECONDS)
    now = time.monotonic()
    if now - _stamp["checked_at"] < interval:
        return
    stamp = _tables_stamp()
    with _cache_lock:
        if stamp != _stamp["value"]:
            _cache.clear()
        _stamp.update(value=stamp, checked_at=now)


def rules_for(site=None):
    """Rules for ``site``: a SiteRules, a Site, a site code, or None for the default site.

    Without a default site in the database the built-in default (HQ, Asia/Shanghai, CN,
    Mon–Fri 08:30–12:00 / 13:00–17:30) is used. Loaded rules are cached per process and
    dropped when the tables' stamp changes (checked at most once a second).
    """
    if isinstance(site, SiteRules):
        return site
    _drop_if_tables_changed()
    key = site.code if hasattr(site, "code") else (site or "__default__")
    with _cache_lock:
        rules = _cache.get(key)
    if rules is None:
        rules = _load(site)
        with _cache_lock:
            _cache[key] = rules
    return rules


def _load(site):
    from qcare.workcalendar.models import Site

    if hasattr(site, "code"):
        return rules_from_site(site)
    if site:
        return rules_from_site(Site.objects.get(code=site))
    default = Site.objects.filter(is_default=True).first()
    return rules_from_site(default) if default else SiteRules()


def date_range(first, last):
    """Dates from ``first`` to ``last`` inclusive."""
    day = first
    while day <= last:
        yield day
        day += dt.timedelta(days=1)
