"""R-NT-1 / R-NT-3: notify() writes outbox and inbox rows in the caller's transaction."""

import pytest
from django.db import transaction

from qcare.accounts.models import Department, Role
from qcare.notifications.models import Channel, Notification, Status
from qcare.notifications.services import notify

pytestmark = pytest.mark.django_db

GENERIC = {"subject": "Hello", "text": "Body text"}


class Boom(Exception):
    pass


def test_R_NT_3_outbox_row_in_same_transaction(make_user):
    """A rolled-back change leaves no notification; a committed one leaves its rows."""
    user = make_user("alice")
    with pytest.raises(Boom), transaction.atomic():
        notify([user], template="generic", context=GENERIC)
        assert Notification.objects.count() == 2  # visible inside the transaction
        raise Boom
    assert Notification.objects.count() == 0

    with transaction.atomic():
        notify([user], template="generic", context=GENERIC)
    assert Notification.objects.count() == 2


def test_R_NT_1_inbox_and_email_rows_per_recipient(make_user):
    """Users, departments, role codes and e-mail addresses expand to one row per recipient and channel."""
    quality = Department.objects.create(code="nt-quality", name="品质部")
    reviewer = Role.objects.create(code="nt-reviewer", name="品质评审")
    alice = make_user("alice", department=quality)
    bob = make_user("bob", department=quality, roles=[reviewer])
    carol = make_user("carol", email="", roles=[reviewer])  # no e-mail address: inbox only
    make_user("dave", department=quality, is_active=False)  # inactive: nothing

    count = notify(
        [alice, quality, "nt-reviewer", "customer@example.org", ("kunde@example.de", "en")],
        template="generic",
        context=GENERIC,
    )

    rows = Notification.objects.all()
    by_target = {(r.recipient_id, r.recipient_email, r.channel) for r in rows}
    assert by_target == {
        (alice.pk, "", Channel.INBOX),
        (alice.pk, "alice@example.com", Channel.EMAIL),
        (bob.pk, "", Channel.INBOX),
        (bob.pk, "bob@example.com", Channel.EMAIL),
        (carol.pk, "", Channel.INBOX),
        (None, "customer@example.org", Channel.EMAIL),
        (None, "kunde@example.de", Channel.EMAIL),
    }
    assert count == len(rows) == 7
    inbox = rows.filter(channel=Channel.INBOX)
    assert all(r.status == Status.SENT and r.delivered_at and r.read_at is None for r in inbox)
    email = rows.filter(channel=Channel.EMAIL)
    assert all(r.status == Status.PENDING and r.delivered_at is None for r in email)
    assert rows.get(recipient_email="kunde@example.de").language == "en"
    assert rows.get(recipient_email="customer@example.org").language == "zh-hans"


def test_R_NT_3_notification_is_a_record_with_object_link(make_user):
    """Each row records to whom, what (rendered content), about which object, and a context snapshot."""
    from django.contrib.contenttypes.models import ContentType

    alice = make_user("alice", full_name="王丽")
    quality = Department.objects.create(code="nt-quality", name="品质部")
    notify(
        [alice],
        template="generic",
        context={**GENERIC, "department": quality},
        obj=quality,
        channels=("inbox",),
    )
    row = Notification.objects.get()
    assert (row.recipient_name, row.subject, row.body.strip()) == ("王丽", "Hello", "Body text")
    assert row.content_type == ContentType.objects.get_for_model(Department)
    assert row.object_pk == str(quality.pk)
    assert row.context["department"] == {"model": "accounts.department", "pk": quality.pk, "str": "品质部"}


def test_dedupe_key_idempotent(make_user):
    """The same dedupe key never queues the same notice twice, even inside one outer transaction."""
    alice, bob = make_user("alice"), make_user("bob")
    with transaction.atomic():
        assert notify([alice], template="generic", context=GENERIC, dedupe_key="overdue:C-1:2026-11-21") == 2
        assert notify([alice], template="generic", context=GENERIC, dedupe_key="overdue:C-1:2026-11-21") == 0
        # A new recipient of the same notice still gets it; the old one still does not.
        assert (
            notify([alice, bob], template="generic", context=GENERIC, dedupe_key="overdue:C-1:2026-11-21")
            == 2
        )
        assert Notification.objects.count() == 4  # the transaction is still usable after conflicts
    assert notify([alice], template="generic", context=GENERIC, dedupe_key="overdue:C-1:2026-11-22") == 2
    keys = set(Notification.objects.values_list("dedupe_key", flat=True))
    assert f"overdue:C-1:2026-11-21:u{alice.pk}:email" in keys
    assert Notification.objects.count() == 6


def test_dedupe_key_long_keys_are_hashed(make_user):
    alice = make_user("alice")
    key = "x" * 400
    assert notify([alice], template="generic", context=GENERIC, dedupe_key=key, channels=("inbox",)) == 1
    assert notify([alice], template="generic", context=GENERIC, dedupe_key=key, channels=("inbox",)) == 0
    assert Notification.objects.get().dedupe_key.startswith("sha256:")


def test_R_NT_1_email_rendered_in_recipient_language(make_user):
    """Subject and body are rendered in each recipient's language (zh-Hans vs en)."""
    from types import SimpleNamespace

    li, smith = make_user("li", language="zh-hans"), make_user("smith", language="en")
    record = SimpleNamespace(number="YP-2026-001", title="样品")
    notify([li, smith], template="sample/created", context={"record": record}, channels=("email",))
    zh = Notification.objects.get(recipient=li)
    en = Notification.objects.get(recipient=smith)
    assert zh.language == "zh-hans" and zh.subject == "样品记录 YP-2026-001 已创建"
    assert "已创建" in zh.body
    assert en.language == "en" and en.subject == "Sample record YP-2026-001 created"
    assert en.body.startswith('Sample record YP-2026-001 "样品" has been created.')


def test_R_NT_1_subject_is_one_line_and_text_is_not_html_escaped(make_user):
    alice = make_user("alice")
    notify([alice], template="generic", context={"subject": "A\r\nBcc: x@evil", "text": '5 < 6 & "ok"'})
    row = Notification.objects.filter(channel=Channel.EMAIL).get()
    assert "\n" not in row.subject and "\r" not in row.subject
    assert row.body.strip() == '5 < 6 & "ok"'


def test_R_NT_1_signatures_locked_template_in_both_languages(make_user):
    admin_zh, admin_en = make_user("admin1"), make_user("admin2", language="en")
    notify(
        [admin_zh, admin_en],
        template="signatures/locked",
        context={"user": "张三", "failures": 5},
        channels=("inbox",),
    )
    assert Notification.objects.get(recipient=admin_zh).subject == "张三 的电子签名已锁定"
    assert Notification.objects.get(recipient=admin_en).subject == "Electronic signing locked for 张三"


@pytest.mark.django_db(transaction=True)
def test_dedupe_key_idempotent_under_concurrent_writers(make_user):
    """Two transactions queue the same notice at the same moment: one row per recipient/channel."""
    import threading

    from django.db import connection

    alice = make_user("alice")
    start = threading.Barrier(2)
    errors = []

    def job():
        try:
            start.wait()
            with transaction.atomic():
                notify([alice], template="generic", context=GENERIC, dedupe_key="due-soon:O-7")
                Notification.objects.count()  # the transaction is still usable afterwards
        except Exception as exc:  # pragma: no cover — reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=job) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert Notification.objects.filter(recipient=alice).count() == 2  # inbox + e-mail, once each


def test_R_NT_1_sample_service_notifies_owner_in_its_transaction(make_user):
    """The reference service queues inbox + e-mail with a working link, in the owner's language."""
    from qcare.sample.models import SampleRecord
    from qcare.sample.services import create_sample

    owner = make_user("owner", language="en", is_superuser=True)
    record = create_sample(owner, title="Gasket")
    rows = Notification.objects.filter(recipient=owner, template="sample/created")
    assert {r.channel for r in rows} == {Channel.INBOX, Channel.EMAIL}
    email = rows.get(channel=Channel.EMAIL)
    assert email.subject == f"Sample record {record.number} created"
    assert email.object_pk == str(record.pk) and email.context["record"]["pk"] == record.pk
    if hasattr(SampleRecord, "get_absolute_url"):
        assert email.url == record.get_absolute_url()
        assert f"http://127.0.0.1:8000{record.get_absolute_url()}" in email.body


def test_R_NT_1_inbox_page_is_translated(make_user, client):
    alice = make_user("alice")
    client.force_login(alice)
    html = client.get("/notifications/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "消息" in html and "您没有任何通知。" in html
