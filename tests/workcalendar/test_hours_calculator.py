"""WorkingHoursCalculator gives exactly what working_hours_between gives (P5), for reports."""

import datetime as dt
import random
from zoneinfo import ZoneInfo

import pytest

from qcare.workcalendar.calendar import WorkingHoursCalculator, working_hours_between

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.django_db
def test_P5_calculator_matches_working_hours_between_across_holidays_and_adjusted_days():
    # 2025 has the Spring Festival, the Dragon Boat holiday, National Day and their 调休 Saturdays.
    first = dt.datetime(2025, 1, 1, tzinfo=SHANGHAI)
    last = dt.datetime(2025, 12, 31, 23, 59, tzinfo=SHANGHAI)
    calculator = WorkingHoursCalculator(first, last)
    rng = random.Random(20251001)
    span = int((last - first).total_seconds())
    for _ in range(2000):
        a = first + dt.timedelta(seconds=rng.randrange(span))
        b = a + dt.timedelta(seconds=rng.randrange(0, 40 * 86400))
        b = min(b, last)
        assert calculator.hours(a, b) == pytest.approx(working_hours_between(a, b), abs=1e-9)
    # National Day week: 1–8 October 2025 are holidays, Saturday 11 October is a working day.
    start = dt.datetime(2025, 9, 30, 17, 0, tzinfo=SHANGHAI)
    end = dt.datetime(2025, 10, 11, 9, 30, tzinfo=SHANGHAI)
    assert calculator.hours(start, end) == pytest.approx(working_hours_between(start, end))
    assert calculator.hours(end, start) == 0.0


@pytest.mark.django_db
def test_P5_calculator_refuses_instants_outside_its_span():
    first = dt.datetime(2025, 3, 1, tzinfo=SHANGHAI)
    calculator = WorkingHoursCalculator(first, first + dt.timedelta(days=10))
    with pytest.raises(ValueError):
        calculator.hours(first, first + dt.timedelta(days=13))
