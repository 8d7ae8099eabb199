"""Deadline arithmetic on the business calendar (P5).

Conventions (see docs/calendar.md):

* Every function takes **aware** datetimes (a naive one raises ``ValueError``) and returns
  aware datetimes **in the site's time zone** (``Asia/Shanghai`` for the default site).
  Compare or store them freely: Django stores aware datetimes as UTC.
* ``site`` is a :class:`~qcare.workcalendar.models.Site`, a site code, a
  :class:`~qcare.workcalendar.rules.SiteRules`, or ``None`` for the default site.
* Working periods are half-open ``[start, end)`` in the site's local wall-clock time; the
  arithmetic is done on UTC instants, so hours are real elapsed hours even on a day
  when the clocks change. A local time that does not exist (spring forward) or exists
  twice (fall back) is resolved with ``fold=0`` and normalised, never an error.
* ``add_working_hours`` returns the instant the hours are used up: when that is exactly
  the end of a period (e.g. 12:00) it returns that end, not the next period's start.
"""

import bisect
import datetime as dt
import math

from qcare.workcalendar.durations import Duration, DurationUnit
from qcare.workcalendar.rules import rules_for

UTC = dt.UTC
#: A site with no working period in ten years is misconfigured, not a reason to loop forever.
MAX_SEARCH_DAYS = 3660


def _require_aware(moment):
    if not isinstance(moment, dt.datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("the business calendar needs an aware datetime")


def _local_instant(date, minute, tz):
    """The UTC instant of ``minute`` after local midnight of ``date`` (gaps/folds resolved)."""
    naive = dt.datetime.combine(date, dt.time()) + dt.timedelta(minutes=minute)
    return naive.replace(tzinfo=tz).astimezone(UTC)


def _intervals_on(rules, date):
    """The working intervals of ``date`` as (start, end) UTC instants, empty ones dropped."""
    cached = rules.day_cache.get(date)
    if cached is None:
        cached = rules.day_cache[date] = _compute_intervals(rules, date)
    return cached


def _compute_intervals(rules, date):
    tz = rules.tz
    result = []
    for start, end in rules.periods_on(date):
        begin, finish = _local_instant(date, start, tz), _local_instant(date, end, tz)
        if finish > begin:
            result.append((begin, finish))
    return tuple(result)


def _intervals_from(rules, moment):
    """Working intervals from ``moment`` on, the first one clipped to start at ``moment``."""
    date = moment.astimezone(rules.tz).date()
    for _ in range(MAX_SEARCH_DAYS):
        for begin, finish in _intervals_on(rules, date):
            if finish > moment:
                yield max(begin, moment), finish
        date += dt.timedelta(days=1)
    raise ValueError(f"site {rules.code} has no working time within {MAX_SEARCH_DAYS} days")


def _local_date(value, rules):
    if isinstance(value, dt.datetime):
        _require_aware(value)
        return value.astimezone(rules.tz).date()
    return value


def working_periods(date, site=None):
    """The working periods of ``date`` (a date, or an aware datetime's local date) in site time."""
    rules = rules_for(site)
    day = _local_date(date, rules)
    return [(b.astimezone(rules.tz), f.astimezone(rules.tz)) for b, f in _intervals_on(rules, day)]


def is_working_day(date, site=None):
    """True when ``date`` (or an aware datetime's local date) has working periods at the site."""
    rules = rules_for(site)
    return bool(rules.periods_on(_local_date(date, rules)))


def is_working_time(moment, site=None):
    """True when ``moment`` lies in a working period (start included, end excluded)."""
    _require_aware(moment)
    rules = rules_for(site)
    return any(b <= moment < f for b, f in _intervals_on(rules, moment.astimezone(rules.tz).date()))


def next_working_time(moment, site=None):
    """``moment`` itself if it is working time, else the start of the next working period."""
    _require_aware(moment)
    rules = rules_for(site)
    begin, _finish = next(_intervals_from(rules, moment.astimezone(UTC)))
    return begin.astimezone(rules.tz)


def add_working_hours(start, hours, site=None):
    """The instant ``hours`` working hours after ``start`` (real elapsed hours inside periods)."""
    _require_aware(start)
    if hours < 0:
        raise ValueError("hours cannot be negative")
    rules = rules_for(site)
    remaining = dt.timedelta(hours=float(hours))  # policies may hand over a Decimal
    if not remaining:
        return start.astimezone(rules.tz)
    for begin, finish in _intervals_from(rules, start.astimezone(UTC)):
        span = finish - begin
        if remaining <= span:
            return (begin + remaining).astimezone(rules.tz)
        remaining -= span
    raise AssertionError("unreachable: _intervals_from raises when it runs out")  # pragma: no cover


def working_hours_between(start, end, site=None):
    """Working hours (float, real hours) from ``start`` to ``end``; negative if end < start."""
    _require_aware(start)
    _require_aware(end)
    if end < start:
        return -working_hours_between(end, start, site)
    rules = rules_for(site)
    first, last = start.astimezone(rules.tz).date(), end.astimezone(rules.tz).date()
    total = dt.timedelta()
    date = first
    while date <= last:
        for begin, finish in _intervals_on(rules, date):
            overlap = min(finish, end) - max(begin, start)
            if overlap > dt.timedelta():
                total += overlap
        date += dt.timedelta(days=1)
    return total.total_seconds() / 3600


class WorkingHoursCalculator:
    """Working hours between many pairs of instants within ``[first, last]`` (reports).

    Same result as :func:`working_hours_between` for end ≥ start (0 when end < start), at a
    fraction of the cost: the working intervals of the span are listed once with the working
    seconds accumulated before each, so one pair is two binary searches (1.5 µs instead of
    5 µs per pair; a year's review-cycle report makes 300,000 of them, see
    docs/benchmarks-orders.md). Instants more than a day outside the span raise ``ValueError``.
    """

    def __init__(self, first, last, site=None):
        _require_aware(first)
        _require_aware(last)
        rules = rules_for(site)
        day = first.astimezone(rules.tz).date() - dt.timedelta(days=1)
        stop = last.astimezone(rules.tz).date() + dt.timedelta(days=1)
        self._begins, self._ends, self._before = [], [], []
        total = 0.0
        while day <= stop:
            for begin, finish in _intervals_on(rules, day):
                b, f = begin.timestamp(), finish.timestamp()
                self._begins.append(b)
                self._ends.append(f)
                self._before.append(total)
                total += f - b
            day += dt.timedelta(days=1)
        # The table covers the whole local day before ``first`` and after ``last``: accept a day's
        # margin, so timestamps computed by the database (float rounding) are never refused.
        self._low, self._high = first.timestamp() - 86400, last.timestamp() + 86400

    def _worked_until(self, ts):
        if not self._low <= ts <= self._high:
            raise ValueError("instant outside the calculator's span")
        i = bisect.bisect_right(self._begins, ts) - 1
        if i < 0:
            return 0.0
        return self._before[i] + min(ts, self._ends[i]) - self._begins[i]

    def hours(self, start, end):
        """Working hours from ``start`` to ``end`` (aware datetimes); 0.0 when end < start."""
        return self.hours_between_timestamps(start.timestamp(), end.timestamp())

    def hours_between_timestamps(self, start, end):
        """The same for POSIX timestamps (e.g. read with :class:`qcare.core.dbfunctions.Epoch`)."""
        seconds = self._worked_until(end) - self._worked_until(start)
        return max(seconds / 3600, 0.0)

    @classmethod
    def for_timestamps(cls, timestamps, site=None):
        """A calculator spanning ``timestamps`` (POSIX seconds; at least one)."""
        low, high = min(timestamps), max(timestamps)
        return cls(dt.datetime.fromtimestamp(low, UTC), dt.datetime.fromtimestamp(high, UTC), site)


def add_working_days(start, days, site=None):
    """Same local time of day ``days`` working days later, moved into working time if needed.

    Precisely: ``start`` is first moved to :func:`next_working_time` (``t``); then the date
    moves forward to the ``days``-th working day after ``t``'s date, keeping ``t``'s local
    wall-clock time; if that time is not working time on the new date, the result is the
    next working time after it. ``days=0`` returns ``t``. So Saturday 10:00 + 3 working
    days is Thursday 08:30 (Monday, Tuesday and Wednesday in full).
    """
    _require_aware(start)
    if days < 0 or not float(days).is_integer():
        raise ValueError("working days must be a whole number ≥ 0")
    rules = rules_for(site)
    moment = next_working_time(start, rules)
    date, counted = moment.date(), 0
    for _ in range(MAX_SEARCH_DAYS):
        if counted >= days:
            break
        date += dt.timedelta(days=1)
        counted += bool(rules.periods_on(date))
    else:
        raise ValueError(f"site {rules.code} has no working day within {MAX_SEARCH_DAYS} days")
    if days == 0:
        return moment
    wall = moment.replace(tzinfo=None).time()
    candidate = dt.datetime.combine(date, wall).replace(tzinfo=rules.tz).astimezone(UTC)
    return next_working_time(candidate, rules)


def add_calendar_days(start, days, site=None):
    """Same local wall-clock time ``days`` calendar days later (weekends and holidays count)."""
    _require_aware(start)
    if not math.isfinite(days):
        raise ValueError("days must be finite")
    rules = rules_for(site)
    local = start.astimezone(rules.tz).replace(tzinfo=None) + dt.timedelta(days=float(days))
    # Normalise through UTC so a wall time inside a DST gap becomes a real instant.
    return local.replace(tzinfo=rules.tz).astimezone(UTC).astimezone(rules.tz)


def add_duration(start, duration: Duration, site=None):
    """``start`` plus a :class:`Duration` in whichever unit it is expressed."""
    adders = {
        DurationUnit.WORKING_HOURS: add_working_hours,
        DurationUnit.WORKING_DAYS: add_working_days,
        DurationUnit.CALENDAR_DAYS: add_calendar_days,
    }
    return adders[DurationUnit(duration.unit)](start, duration.amount, site)
