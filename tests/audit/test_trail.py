"""P3: every change of an audited model is written to the append-only, hash-chained trail."""

from decimal import Decimal

import pytest
from django.contrib.auth import authenticate
from django.db import DatabaseError, connection, transaction
from django.test import RequestFactory

from qcare.accounts.models import Department, User
from qcare.audit.models import AppendOnlyViolation, AuditEntry
from qcare.audit.services import log_event, record_bulk_create
from qcare.audit.verify import verify_chain
from qcare.core.context import audit_context
from qcare.core.errors import ReasonRequired
from qcare.sample.models import SampleRecord
from tests.audit.generic import AuditedModelContract
from tests.audit.helpers import department, make_sample, user_with


class TestSampleRecordAudit(AuditedModelContract):
    """The controlled sample record honours the whole contract."""

    def make_object(self):
        return make_sample(user_with(dept=department()))

    def edit_object(self, obj):
        obj.title = "更正后的标题"
        return "title"


class TestUserAudit(AuditedModelContract):
    """accounts.User is audited (not controlled); its password never reaches the trail."""

    def make_object(self):
        return user_with(full_name="王工")

    def edit_object(self, obj):
        obj.phone = "13800000000"
        return "phone"


@pytest.mark.django_db
def test_P3_create_update_delete_write_entries():
    owner = user_with(full_name="李质量", dept=department())
    record = make_sample(owner, title="初稿", amount="10.00")
    record = SampleRecord.objects.get(pk=record.pk)
    with audit_context(actor=owner, reason="客户要求修改"):
        record.title = "终稿"
        record.amount = Decimal("12.50")
        record.save()
    with audit_context(actor=owner, reason="重复记录"):
        pk = record.pk
        record.delete()
    entries = list(
        AuditEntry.objects.filter(object_pk=str(pk), content_type__model="samplerecord").order_by("seq")
    )
    assert [e.action for e in entries] == ["create", "update", "delete"]
    create, update, delete = entries
    assert create.changes["title"] == [None, "初稿"]
    assert create.changes["owner"] == [None, owner.pk]
    assert create.actor_id == owner.pk and create.actor_name == "李质量"
    assert update.changes == {"title": ["初稿", "终稿"], "amount": ["10.00", "12.50"]}
    assert update.reason == "客户要求修改"
    assert delete.changes["title"] == ["终稿", None]
    assert delete.reason == "重复记录"
    assert [e.seq for e in entries] == sorted(e.seq for e in entries)
    assert verify_chain().ok


@pytest.mark.django_db
def test_P3_update_without_change_writes_nothing():
    record = SampleRecord.objects.get(pk=make_sample(user_with()).pk)
    before = AuditEntry.objects.count()
    record.save()  # nothing changed: no reason needed, no entry
    assert AuditEntry.objects.count() == before


@pytest.mark.django_db
def test_P3_controlled_update_without_reason_refused_nothing_saved():
    owner = user_with(dept=department())
    record = SampleRecord.objects.get(pk=make_sample(owner, title="原值").pk)
    count = AuditEntry.objects.count()
    record.title = "未说明原因的修改"
    with audit_context(actor=owner), pytest.raises(ReasonRequired) as caught:
        record.save()
    assert caught.value.status == 400
    assert "reason" in caught.value.as_dict()["errors"]
    assert SampleRecord.objects.get(pk=record.pk).title == "原值"
    with audit_context(actor=owner, reason="   "), pytest.raises(ReasonRequired), transaction.atomic():
        SampleRecord.objects.get(pk=record.pk).delete()
    assert SampleRecord.objects.filter(pk=record.pk).exists()
    assert AuditEntry.objects.count() == count


@pytest.mark.django_db
def test_P3_reason_required_message_is_translated():
    from django.utils import translation

    with translation.override("zh-hans"):
        message = str(ReasonRequired().message)
    assert message != "This is a controlled record: a reason for the change is required."


@pytest.mark.django_db
def test_P3_values_are_json_safe_and_old_values_need_no_snapshot():
    owner = user_with(dept=department())
    record = make_sample(owner, amount="3.30")
    # Built by hand (no snapshot from the database): the old values are fetched.
    detached = SampleRecord(
        pk=record.pk,
        number=record.number,
        title="手工",
        amount=Decimal("4.40"),
        owner=owner,
        version=1,
        created_at=record.created_at,
    )
    detached._state.adding = False
    with audit_context(reason="修正金额"):
        detached.save()
    last = AuditEntry.objects.order_by("-seq").first()
    assert last.action == "update"
    assert last.changes["amount"] == ["3.30", "4.40"]
    assert last.changes["title"] == ["样品记录", "手工"]


@pytest.mark.django_db
def test_P3_entries_are_append_only_orm():
    entry = log_event("export", data={"rows": 3})
    entry = AuditEntry.objects.get(pk=entry.pk)
    entry.reason = "tampered"
    with pytest.raises(AppendOnlyViolation):
        entry.save()
    with pytest.raises(AppendOnlyViolation):
        entry.delete()
    with pytest.raises(AppendOnlyViolation):
        AuditEntry.objects.filter(pk=entry.pk).update(reason="x")
    with pytest.raises(AppendOnlyViolation):
        AuditEntry.objects.filter(pk=entry.pk).delete()
    with pytest.raises(AppendOnlyViolation):
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.get(pk=entry.pk).reason == ""


@pytest.mark.postgres_only
@pytest.mark.django_db
def test_P3_postgres_trigger_refuses_update_delete():
    assert connection.vendor == "postgresql"
    entry = log_event("export", data={"rows": 1})
    for sql in (
        "UPDATE audit_auditentry SET reason = 'x' WHERE id = %s",
        "DELETE FROM audit_auditentry WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [entry.pk])
    assert AuditEntry.objects.get(pk=entry.pk).reason == ""


@pytest.mark.django_db
def test_P3_password_never_in_trail():
    secret = "Ganz-Geheim-Passwort-77"
    user = user_with(username="pwuser", password=secret)
    user = User.objects.get(pk=user.pk)
    user.set_password("Noch-Geheimer-88")
    user.save()
    request = RequestFactory().post("/accounts/login/")
    assert authenticate(request=request, username="pwuser", password="Falsch-Passwort-99") is None
    dumps = [str(e.changes) + str(e.data) + e.reason for e in AuditEntry.objects.all()]
    blob = "\n".join(dumps)
    for needle in (secret, "Noch-Geheimer-88", "Falsch-Passwort-99", user.password, user.password[-20:]):
        assert needle not in blob
    changed = AuditEntry.objects.filter(object_pk=str(user.pk), action="update").order_by("-seq").first()
    assert changed.changes["password"] == "***changed***"
    failed = AuditEntry.objects.filter(action="login_failed").order_by("-seq").first()
    assert failed.data["username"] == "pwuser"
    assert set(failed.data) <= {"username", "ip", "user_agent"}


@pytest.mark.django_db
def test_P3_login_and_logout_are_events(client):
    user = user_with(username="loginuser", password="Richtig-Pass-2026")
    response = client.post("/accounts/login/", {"username": "loginuser", "password": "Richtig-Pass-2026"})
    assert response.status_code in (200, 302)
    login = AuditEntry.objects.filter(action="login", actor=user)
    assert login.exists(), "the sign-in is in the trail"
    client.post("/accounts/logout/")
    assert AuditEntry.objects.filter(action="logout", actor=user).exists()


@pytest.mark.django_db
def test_P3_m2m_changes_are_recorded():
    user = user_with()
    from qcare.accounts.models import Role

    role = Role.objects.create(code="extra-role", name="额外角色")
    user.roles.add(role)
    entry = AuditEntry.objects.filter(action="m2m", object_pk=str(user.pk)).order_by("-seq").first()
    assert entry.changes == {"roles": [[], [role.pk]]}
    role.users.remove(user)  # from the other side
    entry = AuditEntry.objects.filter(action="m2m", object_pk=str(role.pk)).order_by("-seq").first()
    assert entry.changes == {"users": [[user.pk], []]}


@pytest.mark.django_db
def test_P3_log_event_and_bulk_create_paths():
    actor = user_with(full_name="审核员")
    record = make_sample(actor)
    event = log_event("view", obj=record, actor=actor, data={"why": "抽查"})
    assert (event.action, event.actor_name, event.data) == ("view", "审核员", {"why": "抽查"})
    custom = log_event("signing_locked", obj=actor)
    assert custom.action == "other" and custom.data["event"] == "signing_locked"
    depts = Department.objects.bulk_create(
        [Department(code=f"bulk{i}", name=f"批量部门{i}") for i in range(3)]
    )
    entries = record_bulk_create(depts, actor=actor)
    assert [e.object_pk for e in entries] == [str(d.pk) for d in depts]
    assert all(e.action == "create" and e.changes["code"][1].startswith("bulk") for e in entries)
    assert verify_chain().ok


@pytest.mark.django_db
def test_P3_workflow_status_change_needs_no_correction_reason():
    owner = user_with(dept=department())
    record = SampleRecord.objects.get(pk=make_sample(owner).pk)
    record.status = "submitted"
    with audit_context(actor=owner):
        record.save(update_fields=["status"])
    last = AuditEntry.objects.order_by("-seq").first()
    assert (last.action, last.changes, last.reason) == ("update", {"status": ["draft", "submitted"]}, "")
    record.status, record.title = "approved", "偷偷改标题"
    with pytest.raises(ReasonRequired):
        record.save()  # a content field changes too: the reason is required again


@pytest.mark.django_db
def test_P3_old_values_are_current_after_refresh_from_db():
    owner = user_with(dept=department())
    record = SampleRecord.objects.get(pk=make_sample(owner, title="第一版").pk)
    other = SampleRecord.objects.get(pk=record.pk)
    with audit_context(actor=owner, reason="第二版"):
        other.title = "第二版"
        other.save()
    record.refresh_from_db()
    with audit_context(actor=owner, reason="第三版"):
        record.title = "第三版"
        record.save()
    last = AuditEntry.objects.order_by("-seq").first()
    assert last.changes["title"] == ["第二版", "第三版"]
