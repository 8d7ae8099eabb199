"""Inbox screen, unread badge and mark-as-read (with and without htmx)."""

import pytest
from django.db import transaction

from qcare.notifications.models import Notification
from qcare.notifications.services import notify, unread_count

pytestmark = pytest.mark.django_db


def _inbox(user, n=1, subject="Review requested"):
    with transaction.atomic():
        for i in range(n):
            notify(
                [user],
                template="generic",
                context={"subject": f"{subject} {i}", "text": "x"},
                channels=("inbox",),
            )


def test_R_NT_1_inbox_lists_my_notifications_unread_first(make_user, client):
    alice, bob = make_user("alice"), make_user("bob")
    _inbox(alice, 3)
    _inbox(bob, 1, subject="Not for Alice")
    first = Notification.objects.filter(recipient=alice).order_by("id").first()
    Notification.objects.filter(pk=first.pk).update(read_at=first.created_at)
    client.force_login(alice)
    html = client.get("/notifications/").content.decode()
    assert "Not for Alice" not in html
    assert (
        html.index("Review requested 2") < html.index("Review requested 1") < html.index("Review requested 0")
    )
    assert unread_count(alice) == 2


def test_R_NT_1_mark_read_without_js_and_with_htmx(make_user, client):
    alice = make_user("alice")
    _inbox(alice, 2)
    one, two = Notification.objects.filter(recipient=alice).order_by("id")
    client.force_login(alice)

    response = client.post(f"/notifications/{one.pk}/read/", {"next": "/notifications/"})
    assert response.status_code == 302 and response["Location"] == "/notifications/"
    response = client.post(f"/notifications/{two.pk}/read/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and f'id="notification-{two.pk}"' in response.content.decode()
    assert response["HX-Trigger"] == "qcare:inbox-changed"
    assert unread_count(alice) == 0


def test_R_NT_1_mark_all_read_and_others_are_404(make_user, client):
    alice, bob = make_user("alice"), make_user("bob")
    _inbox(alice, 3)
    _inbox(bob, 1)
    client.force_login(alice)
    bobs = Notification.objects.get(recipient=bob)
    assert client.post(f"/notifications/{bobs.pk}/read/").status_code == 404
    assert client.get(f"/notifications/{bobs.pk}/open/").status_code == 404
    assert client.post("/notifications/read-all/").status_code == 302
    assert unread_count(alice) == 0 and unread_count(bob) == 1


def test_R_NT_1_unread_count_in_context(make_user, client, django_assert_max_num_queries):
    from django.test import RequestFactory

    from qcare.notifications.context_processors import inbox

    alice = make_user("alice")
    _inbox(alice, 2)
    request = RequestFactory().get("/")
    request.user = alice
    context = inbox(request)
    with django_assert_max_num_queries(1):
        assert int(str(context["inbox_unread"])) == 2


def test_R_NT_1_inbox_needs_login(client):
    response = client.get("/notifications/")
    assert response.status_code == 302 and "/accounts/login" in response["Location"]
