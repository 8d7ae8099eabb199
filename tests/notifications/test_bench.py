"""The benchmark helper really drains the outbox to a loopback SMTP server."""

import pytest

from qcare.notifications.bench import outbox_throughput
from qcare.notifications.models import Notification


@pytest.mark.django_db
@pytest.mark.parametrize("smtp", ["thread", "process"])
def test_outbox_throughput_helper_sends_everything(smtp):
    result = outbox_throughput(30, batch=7, smtp=smtp)
    assert result["queued"] == result["messages"] == result["marked_sent"] == 30
    if smtp == "thread":
        assert result["received"] == 30
    assert result["messages_per_s"] > 0
    assert not Notification.objects.exists()  # cleaned up
