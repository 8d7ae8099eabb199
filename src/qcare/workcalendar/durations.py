"""Durations that deadlines are expressed in (P5): working hours, working days, calendar days."""

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _


class DurationUnit(models.TextChoices):
    WORKING_HOURS = "working_hours", _("working hours")
    WORKING_DAYS = "working_days", _("working days")
    CALENDAR_DAYS = "calendar_days", _("calendar days")


@dataclass(frozen=True)
class Duration:
    """An amount of time in one of the three units; policies store deadlines as these."""

    amount: float
    unit: str

    def __post_init__(self):
        if self.unit not in DurationUnit.values:
            raise ValueError(f"unknown duration unit {self.unit!r}")
        if self.amount < 0:
            raise ValueError("a duration cannot be negative")

    def as_dict(self):
        return {"amount": self.amount, "unit": self.unit}

    @classmethod
    def from_dict(cls, data):
        return cls(amount=data["amount"], unit=data["unit"])

    def __str__(self):
        amount = int(self.amount) if float(self.amount).is_integer() else self.amount
        return f"{amount} {DurationUnit(self.unit).label}"
