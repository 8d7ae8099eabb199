"""Epoch reads a datetime column as POSIX seconds on SQLite and PostgreSQL alike."""

import datetime as dt

import pytest

from qcare.accounts.models import User
from qcare.core.dbfunctions import Epoch
from tests.factories import UserFactory


@pytest.mark.django_db
def test_epoch_matches_python_timestamp_to_the_millisecond():
    moment = dt.datetime(2025, 10, 9, 8, 30, 15, 250000, tzinfo=dt.UTC)
    user = UserFactory(username="epoch")
    User.objects.filter(pk=user.pk).update(date_joined=moment)
    value = (
        User.objects.filter(pk=user.pk).annotate(ts=Epoch("date_joined")).values_list("ts", flat=True).get()
    )
    assert isinstance(value, float)
    assert value == pytest.approx(moment.timestamp(), abs=1e-3)
