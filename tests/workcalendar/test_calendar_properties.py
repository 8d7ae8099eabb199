"""Property tests of the business calendar over 2024–2027 (P5), in China and across DST."""

import datetime as dt
import math
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from qcare.workcalendar import calendar as cal
from qcare.workcalendar.rules import SiteRules, rules_weekly

NIGHT_AND_DAY = {
    key: [["00:00", "03:30"], ["08:30", "12:00"], ["13:00", "17:30"]]
    for key in ("mon", "tue", "wed", "thu", "fri", "sat")
}
SITES = [
    SiteRules(),  # HQ, Asia/Shanghai, CN (chinesecalendar 2024–2026, fallback 2027)
    # A site whose periods include the hours when the clocks change.
    SiteRules(code="BER", time_zone="Europe/Berlin", country="DE", weekly=rules_weekly(NIGHT_AND_DAY)),
    SiteRules(code="NY", time_zone="America/New_York", country="US"),
]

sites = st.sampled_from(SITES)
# Whole seconds keep float round-trips exact enough to compare with a microsecond tolerance.
hours = st.integers(min_value=1, max_value=300 * 3600).map(lambda s: s / 3600)
EPS = 1e-6


@st.composite
def starts(draw, site):
    naive = draw(st.datetimes(min_value=dt.datetime(2024, 1, 1), max_value=dt.datetime(2027, 11, 30)))
    # Attach the site's zone like a user would; gap/fold times included on purpose.
    return naive.replace(tzinfo=ZoneInfo(site.time_zone), fold=draw(st.integers(0, 1)))


def _inside_a_period(moment, site):
    """True when ``moment`` lies in (start, end] of a working period — where a deadline may fall."""
    return any(b < moment <= f for b, f in cal.working_periods(moment, site))


@settings(max_examples=300, deadline=None)
@given(st.data(), sites, hours)
def test_P5_working_hours_round_trip_and_land_in_working_time(data, site, h):
    start = data.draw(starts(site))
    result = cal.add_working_hours(start, h, site)
    assert math.isclose(cal.working_hours_between(start, result, site), h, abs_tol=EPS)
    assert _inside_a_period(result, site)
    assert result.tzinfo.key == site.time_zone


@settings(max_examples=200, deadline=None)
@given(st.data(), sites, hours, hours)
def test_P5_add_working_hours_is_monotonic_and_additive(data, site, h1, h2):
    start = data.draw(starts(site))
    small, large = sorted((h1, h2))
    assert cal.add_working_hours(start, small, site) <= cal.add_working_hours(start, large, site)
    # Adding in two steps is adding the sum.
    step = cal.add_working_hours(cal.add_working_hours(start, h1, site), h2, site)
    direct = cal.add_working_hours(start, h1 + h2, site)
    assert abs((step - direct).total_seconds()) < 0.01


@settings(max_examples=200, deadline=None)
@given(st.data(), sites, st.integers(min_value=0, max_value=40 * 24 * 3600), st.floats(0, 1))
def test_P5_working_hours_between_is_additive_over_a_split(data, site, span_seconds, fraction):
    start = data.draw(starts(site))
    end = start + dt.timedelta(seconds=span_seconds)
    middle = start + dt.timedelta(seconds=span_seconds * fraction)
    whole = cal.working_hours_between(start, end, site)
    parts = cal.working_hours_between(start, middle, site) + cal.working_hours_between(middle, end, site)
    assert math.isclose(whole, parts, abs_tol=EPS)
    assert whole >= 0
    assert math.isclose(cal.working_hours_between(end, start, site), -whole, abs_tol=EPS)


@settings(max_examples=200, deadline=None)
@given(st.data(), sites, st.integers(min_value=0, max_value=30))
def test_P5_add_working_days_lands_on_a_working_day_in_working_time(data, site, days):
    start = data.draw(starts(site))
    result = cal.add_working_days(start, days, site)
    assert cal.is_working_day(result, site)
    assert cal.is_working_time(result, site)
    assert result >= start
    # At least `days` working days lie strictly between the start's day and the result's day.
    first = cal.next_working_time(start, site).date()
    between = [
        first + dt.timedelta(days=i)
        for i in range(1, (result.date() - first).days + 1)
        if cal.is_working_day(first + dt.timedelta(days=i), site)
    ]
    assert len(between) >= days


@settings(max_examples=200, deadline=None)
@given(st.data(), sites)
def test_P5_next_working_time_is_the_first_working_moment(data, site):
    start = data.draw(starts(site))
    result = cal.next_working_time(start, site)
    assert result >= start
    assert cal.is_working_time(result, site)
    assert cal.working_hours_between(start, result, site) == 0
