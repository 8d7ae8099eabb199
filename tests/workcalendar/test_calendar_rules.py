"""Concrete deadline examples on the business calendar (P5)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from qcare.workcalendar import calendar as cal
from qcare.workcalendar.durations import Duration
from qcare.workcalendar.rules import SiteRules, national_calendar, rules_weekly

SH = ZoneInfo("Asia/Shanghai")
CN = SiteRules()  # the built-in default: HQ, Asia/Shanghai, CN, Mon–Fri 08:30–12:00 / 13:00–17:30


def sh(*args):
    return dt.datetime(*args, tzinfo=SH)


def test_P5_six_working_hours_from_friday_1600_end_monday_1400():
    # Fri 16:00–17:30 (1.5 h) + Mon 08:30–12:00 (3.5 h) + Mon 13:00–14:00 (1 h)
    assert cal.add_working_hours(sh(2026, 11, 20, 16, 0), 6, CN) == sh(2026, 11, 23, 14, 0)


def test_P5_results_are_in_the_site_time_zone():
    start = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)  # 16:00 in Shanghai
    result = cal.add_working_hours(start, 6, CN)
    assert result.tzinfo.key == "Asia/Shanghai"
    assert result == sh(2026, 11, 23, 14, 0)


def test_P5_hours_used_up_at_a_period_end_return_that_end():
    assert cal.add_working_hours(sh(2026, 11, 23, 8, 30), 3.5, CN) == sh(2026, 11, 23, 12, 0)
    assert not cal.is_working_time(sh(2026, 11, 23, 12, 0), CN)
    assert cal.is_working_time(sh(2026, 11, 23, 8, 30), CN)


def test_P5_2026_spring_festival_holidays_and_adjusted_saturdays():
    # 国务院办公厅 2026 arrangement: 2/15–2/23 off; Sat 2/14 and Sat 2/28 are working days.
    for day in range(15, 24):
        assert not cal.is_working_day(dt.date(2026, 2, day), CN), day
    assert cal.is_working_day(dt.date(2026, 2, 14), CN)
    assert cal.is_working_day(dt.date(2026, 2, 28), CN)
    assert cal.is_working_day(dt.date(2026, 2, 24), CN)
    assert not cal.is_working_day(dt.date(2026, 3, 1), CN)  # an ordinary Sunday
    # The adjusted Saturday has the normal working periods.
    assert cal.add_working_hours(sh(2026, 2, 13, 16, 0), 8, CN) == sh(2026, 2, 14, 16, 0)
    # Half an hour left on Saturday 2/14, the rest after the festival.
    assert cal.add_working_hours(sh(2026, 2, 14, 17, 0), 1, CN) == sh(2026, 2, 24, 9, 0)
    assert cal.add_working_days(sh(2026, 2, 13, 10, 0), 1, CN) == sh(2026, 2, 14, 10, 0)
    assert cal.add_working_days(sh(2026, 2, 13, 10, 0), 2, CN) == sh(2026, 2, 24, 10, 0)
    assert cal.working_hours_between(sh(2026, 2, 14, 17, 30), sh(2026, 2, 24, 8, 30), CN) == 0


def test_P5_2026_national_day_with_adjusted_working_days():
    # 10/1–10/7 off (with Mid-Autumn 9/25–9/27); Sun 9/20 and Sat 10/10 are working days.
    for day in range(1, 8):
        assert not cal.is_working_day(dt.date(2026, 10, day), CN), day
    assert not cal.is_working_day(dt.date(2026, 9, 25), CN)
    assert cal.is_working_day(dt.date(2026, 9, 20), CN)
    assert cal.is_working_day(dt.date(2026, 10, 10), CN)
    assert cal.add_working_days(sh(2026, 9, 30, 9, 0), 1, CN) == sh(2026, 10, 8, 9, 0)
    # 3 working days from Thu 10/8 09:00: Fri 10/9, Sat 10/10 (adjusted), Mon 10/12.
    assert cal.add_working_days(sh(2026, 10, 8, 9, 0), 3, CN) == sh(2026, 10, 12, 9, 0)
    assert cal.working_hours_between(sh(2026, 9, 30, 17, 0), sh(2026, 10, 8, 9, 0), CN) == 1.0


def test_P5_add_working_days_moves_start_into_working_time_first():
    saturday = sh(2026, 11, 21, 10, 0)
    # Monday, Tuesday and Wednesday in full → Thursday 08:30.
    assert cal.add_working_days(saturday, 3, CN) == sh(2026, 11, 26, 8, 30)
    assert cal.add_working_days(saturday, 0, CN) == sh(2026, 11, 23, 8, 30)
    lunch = sh(2026, 11, 23, 12, 30)
    assert cal.add_working_days(lunch, 1, CN) == sh(2026, 11, 24, 13, 0)
    with pytest.raises(ValueError):
        cal.add_working_days(saturday, 1.5, CN)


def test_P5_next_working_time_and_calendar_days():
    assert cal.next_working_time(sh(2026, 11, 20, 18, 0), CN) == sh(2026, 11, 23, 8, 30)
    assert cal.next_working_time(sh(2026, 11, 20, 9, 0), CN) == sh(2026, 11, 20, 9, 0)
    # Calendar days count weekends and holidays and keep the wall-clock time.
    assert cal.add_calendar_days(sh(2026, 9, 30, 15, 0), 13, CN) == sh(2026, 10, 13, 15, 0)


def test_P5_add_duration_dispatches_on_the_unit():
    from decimal import Decimal

    start = sh(2026, 11, 20, 16, 0)
    assert cal.add_working_hours(start, Decimal("6"), CN) == sh(2026, 11, 23, 14, 0)
    assert cal.add_calendar_days(start, Decimal("1"), CN) == sh(2026, 11, 21, 16, 0)
    assert cal.add_duration(start, Duration(6, "working_hours"), CN) == sh(2026, 11, 23, 14, 0)
    assert cal.add_duration(start, Duration(1, "working_days"), CN) == sh(2026, 11, 23, 16, 0)
    assert cal.add_duration(start, Duration(13, "calendar_days"), CN) == sh(2026, 12, 3, 16, 0)


def test_P5_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        cal.add_working_hours(dt.datetime(2026, 11, 20, 16, 0), 1, CN)
    with pytest.raises(ValueError):
        cal.is_working_time(dt.datetime(2026, 11, 20, 16, 0), CN)


def test_P5_year_without_chinesecalendar_data_falls_back_to_holidays_package():
    national = national_calendar("CN", 2027)
    assert national.source == "holidays-fallback"
    assert not national.working_days  # 调休 unknown until the package is upgraded
    assert not cal.is_working_day(dt.date(2027, 10, 1), CN)
    assert not cal.is_working_day(dt.date(2027, 2, 8), CN)  # Spring Festival
    assert cal.is_working_day(dt.date(2027, 10, 8), CN)
    assert national_calendar("CN", 2026).source == "chinesecalendar"


# A site working a night shift 00:00–06:00 every day, so the periods cross the DST change.
NIGHTS = {key: [["00:00", "06:00"]] for key in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
BERLIN_NIGHTS = SiteRules(code="BER", time_zone="Europe/Berlin", country="DE", weekly=rules_weekly(NIGHTS))
NEW_YORK_NIGHTS = SiteRules(
    code="NYC", time_zone="America/New_York", country="US", weekly=rules_weekly(NIGHTS)
)


def test_P5_berlin_site_counts_real_hours_across_dst():
    berlin = ZoneInfo("Europe/Berlin")
    # 2026-03-29: clocks jump 02:00 → 03:00, so 00:00–06:00 is 5 real hours.
    day = lambda d: dt.datetime(2026, 3, d, 0, 0, tzinfo=berlin)  # noqa: E731
    assert cal.working_hours_between(day(28), day(29), BERLIN_NIGHTS) == 6
    assert cal.working_hours_between(day(29), day(30), BERLIN_NIGHTS) == 5
    # 2026-10-25: clocks go back 03:00 → 02:00, so the night is 7 real hours.
    assert (
        cal.working_hours_between(
            dt.datetime(2026, 10, 25, tzinfo=berlin), dt.datetime(2026, 10, 26, tzinfo=berlin), BERLIN_NIGHTS
        )
        == 7
    )
    # 5 working hours from Sunday 00:00 end at 06:00 local (04:00 UTC), not 05:00.
    assert cal.add_working_hours(day(29), 5, BERLIN_NIGHTS) == dt.datetime(2026, 3, 29, 6, 0, tzinfo=berlin)
    # A wall time inside the gap does not crash.
    assert cal.is_working_time(dt.datetime(2026, 3, 29, 2, 30, tzinfo=berlin), BERLIN_NIGHTS)
    # German public holidays apply (Good Friday, Easter Monday 2026), weekly hours otherwise.
    assert not cal.is_working_day(dt.date(2026, 4, 3), BERLIN_NIGHTS)
    assert not cal.is_working_day(dt.date(2026, 4, 6), BERLIN_NIGHTS)
    assert cal.is_working_day(dt.date(2026, 4, 4), BERLIN_NIGHTS)


def test_P5_new_york_site_across_dst_with_office_hours():
    ny = ZoneInfo("America/New_York")
    office = SiteRules(code="NY", time_zone="America/New_York", country="US")
    # Fri 2026-03-06 09:00 EST → Mon 03-09 09:00 EDT: 7.5 + 0.5 working hours, wall clock kept.
    start = dt.datetime(2026, 3, 6, 9, 0, tzinfo=ny)
    end = dt.datetime(2026, 3, 9, 9, 0, tzinfo=ny)
    assert cal.working_hours_between(start, end, office) == 7.5 + 0.5
    assert cal.add_working_hours(start, 8, office) == end
    assert cal.add_calendar_days(start, 3, office) == end  # 71 real hours, same wall clock
    assert (
        cal.working_hours_between(
            dt.datetime(2026, 3, 8, 0, 0, tzinfo=ny),
            dt.datetime(2026, 3, 9, 0, 0, tzinfo=ny),
            NEW_YORK_NIGHTS,
        )
        == 5
    )
    assert not cal.is_working_day(dt.date(2026, 11, 26), office)  # Thanksgiving
    assert cal.is_working_day(dt.date(2026, 10, 1), office)  # China's National Day is not a US holiday
