"""Electronic signatures (P4): re-entered password, name/time/meaning/hash, lock, validity."""

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine
from django.db import transaction
from django.urls import reverse
from django.utils import translation

from qcare.core import policies, signatures
from qcare.core.errors import NotPermitted, ValidationFailed
from qcare.core.models_mech import Signature
from qcare.core.signatures import SignatureRefused, sign, signatures_for, signing_atomic

PASSWORD = "Correct-horse-9"


@pytest.fixture
def record(make_user):
    from qcare.sample.models import SampleRecord

    owner = make_user("owner")
    with transaction.atomic():
        return SampleRecord.objects.create(
            number="SMP-2026-0001",
            title="外壳强度测试",
            description="首件",
            amount=Decimal("1200.50"),
            owner=owner,
        )


@pytest.fixture
def signer(make_user):
    return make_user("qe_li", full_name="李质量", perms=["sample.approve", "sample.view"])


def _reload(user):
    user.refresh_from_db()
    return user


@pytest.mark.django_db
def test_P4_sign_records_name_time_meaning_hash(record, signer, audit_events):
    moment = datetime(2026, 5, 6, 2, 30, tzinfo=UTC)
    with time_machine.travel(moment, tick=False):
        signature = sign(record, signer, PASSWORD, "reviewed", comment="同意")
    stored = Signature.objects.get(pk=signature.pk)
    assert stored.signer == signer
    assert stored.signer_full_name == "李质量"
    assert stored.signed_at == moment
    assert stored.meaning == "reviewed"
    assert stored.comment == "同意"
    assert stored.record_version == record.version
    expected = json.dumps(
        {"amount": "1200.50", "description": "首件", "title": "外壳强度测试"},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    assert stored.content_hash == hashlib.sha256(expected.encode()).hexdigest()
    assert stored.is_valid
    events = audit_events.of("signature")
    assert len(events) == 1 and events[0]["obj"] == record and events[0]["actor"] == signer
    assert [s.pk for s in signatures_for(record)] == [signature.pk]


@pytest.mark.django_db
def test_P4_signature_shown_with_company_time_and_meaning(record, signer):
    from django.template import Context, Template

    with time_machine.travel(datetime(2026, 5, 6, 2, 30, tzinfo=UTC), tick=False):
        sign(record, signer, PASSWORD, "approved")
    with translation.override("en"):
        html = Template("{% load qcare_signatures %}{% signatures_for obj %}").render(
            Context({"obj": record})
        )
    assert "李质量" in html and "Approved" in html
    assert "2026-05-06 10:30" in html  # Asia/Shanghai, not UTC
    assert "signature-invalid" not in html


@pytest.mark.django_db
def test_P4_signature_dicts_for_api_and_printouts(record, signer):
    with time_machine.travel(datetime(2026, 5, 6, 2, 30, tzinfo=UTC), tick=False):
        sign(record, signer, PASSWORD, "verified", comment="核对无误")
    [data] = signatures.signature_dicts(record)
    assert data["signer_full_name"] == "李质量" and data["meaning"] == "verified"
    assert data["signed_at"].startswith("2026-05-06T02:30") and data["signed_at_local"].startswith(
        "2026-05-06T10:30"
    )
    assert data["is_valid"] is True and data["comment"] == "核对无误"


@pytest.mark.django_db
def test_P4_wrong_password_refused_and_audited(record, signer, audit_events):
    with translation.override("zh-hans"), pytest.raises(SignatureRefused) as info:
        sign(record, signer, "wrong-password", "approved")
    assert any("\u4e00" <= ch <= "\u9fff" for ch in info.value.errors["password"][0])
    assert not Signature.objects.exists()
    assert _reload(signer).signing_failures == 1
    failed = audit_events.of("signature_failed")
    assert len(failed) == 1 and failed[0]["obj"] == record and failed[0]["actor"].pk == signer.pk

    # A correct password afterwards signs and resets the count.
    sign(record, signer, PASSWORD, "approved")
    assert _reload(signer).signing_failures == 0


@pytest.mark.django_db
def test_P4_wrong_password_counted_although_service_rolls_back(record, signer, audit_events):
    """Inside signing_atomic the service's transaction rolls back, the failure stays."""
    from qcare.core.context import audit_context

    with pytest.raises(SignatureRefused), signing_atomic(), audit_context(actor=signer, reason="审批"):
        record.status = "approved"
        record.save(update_fields=["status"])
        sign(record, signer, "wrong-password", "approved")
    record.refresh_from_db()
    assert record.status != "approved"  # the service's work was rolled back
    assert _reload(signer).signing_failures == 1
    assert len(audit_events.of("signature_failed")) == 1


@pytest.mark.django_db
def test_P4_five_failures_lock_and_notify_admins(record, signer, make_user, audit_events, notifications_sent):
    admin = make_user("sysadmin", role_code="administrator")
    make_user("bystander")
    assert policies.get("signatures.max_failures") == 5
    for _attempt in range(4):
        with pytest.raises(SignatureRefused):
            sign(record, signer, "bad", "approved")
    assert _reload(signer).signing_locked_at is None and notifications_sent == []
    with pytest.raises(SignatureRefused):
        sign(record, signer, "bad", "approved")
    assert _reload(signer).signing_locked_at is not None
    assert len(notifications_sent) == 1
    recipients, kwargs = notifications_sent[0][0][0], notifications_sent[0][1]
    assert [u.pk for u in recipients] == [admin.pk]
    assert kwargs["template"] == "signatures/locked"

    # Locked: even the right password is refused, and nothing is signed.
    with pytest.raises(NotPermitted):
        sign(record, signer, PASSWORD, "approved")
    assert not Signature.objects.exists()

    # Only someone allowed to unlock can, with a reason; then signing works again.
    with pytest.raises(NotPermitted):
        signatures.unlock_signing(signer, signer, "自己解锁")
    unlocker = make_user("it_admin", perms=["signatures.unlock"])
    signatures.unlock_signing(unlocker, signer, "已与本人确认")
    assert _reload(signer).signing_locked_at is None and signer.signing_failures == 0
    assert sign(record, signer, PASSWORD, "approved").is_valid


@pytest.mark.django_db
def test_P4_lock_threshold_follows_policy(record, signer, make_user):
    policy_admin = make_user(perms=["policies.change"])
    policies.set_policy(policy_admin, "signatures.max_failures", 2, "更严格")
    for _attempt in range(2):
        with pytest.raises(SignatureRefused):
            sign(record, signer, "bad", "approved")
    assert _reload(signer).signing_locked_at is not None


@pytest.mark.django_db
def test_P4_inactive_user_cannot_sign(record, signer):
    signer.is_active = False
    signer.save()
    with pytest.raises(NotPermitted):
        sign(record, signer, PASSWORD, "approved")


@pytest.mark.django_db
def test_P4_unknown_meaning_refused(record, signer):
    with pytest.raises(ValidationFailed):
        sign(record, signer, PASSWORD, "liked")


@pytest.mark.django_db
def test_P4_signature_invalid_after_content_change(record, signer):
    from qcare.core.context import audit_context

    signature = sign(record, signer, PASSWORD, "approved")
    with transaction.atomic(), audit_context(actor=signer, reason="改金额"):
        record.amount = Decimal("999.00")
        record.save()
    [shown] = signatures_for(record)
    assert shown.pk == signature.pk and not shown.is_valid
    assert not Signature.objects.get(pk=signature.pk).is_valid
    assert signatures.valid_signatures(record) == []


@pytest.mark.django_db
def test_P4_signature_survives_unrelated_field_change(record, signer):
    from qcare.core.context import audit_context

    sign(record, signer, PASSWORD, "approved")
    with transaction.atomic(), audit_context(actor=signer, reason="状态变更"):
        record.status = "approved"
        record.save()
    [shown] = signatures_for(record)
    assert shown.is_valid
    assert len(signatures.valid_signatures(record, "approved")) == 1


@pytest.mark.django_db
def test_P4_unsaved_edit_is_not_what_is_signed(record, signer):
    """The signature binds the stored content; an unsaved in-memory change is not signed."""
    record.title = "未保存的修改"
    signature = sign(record, signer, PASSWORD, "approved")
    record.refresh_from_db()
    assert signature.content_hash == signatures.content_hash(record)


@pytest.mark.django_db
def test_P4_invalid_badge_rendered(record, signer):
    from django.template import Context, Template

    from qcare.core.context import audit_context

    sign(record, signer, PASSWORD, "approved")
    with transaction.atomic(), audit_context(actor=signer, reason="改标题"):
        record.title = "新标题"
        record.save()
    with translation.override("en"):
        html = Template("{% load qcare_signatures %}{% signatures_for obj %}").render(
            Context({"obj": record})
        )
    assert 'data-testid="signature-invalid"' in html
    assert "content changed after signing" in html


@pytest.mark.django_db
def test_P4_generic_sign_view_counts_wrong_password(client, record, signer, rf):
    """SignView wraps the service in signing_atomic: a wrong password is refused and counted."""
    from qcare.core.views_mech import SignView
    from qcare.sample.models import SampleRecord
    from qcare.sample.services import approve_sample

    view = SignView.as_view(model=SampleRecord, service=approve_sample, meanings=("approved",))
    request = rf.post(
        "/", {"meaning": "approved", "username": signer.username, "password": "wrong", "comment": ""}
    )
    request.user = signer
    request._dont_enforce_csrf_checks = True
    from django.contrib.messages.storage.fallback import FallbackStorage

    request.session = {}
    request._messages = FallbackStorage(request)
    response = view(request, pk=record.pk)
    assert response.status_code == 400
    assert _reload(signer).signing_failures == 1
    assert not Signature.objects.exists()

    get = rf.get("/")
    get.user = signer
    page = view(get, pk=record.pk)
    assert page.status_code == 200
    assert "外壳强度测试" in page.content.decode()


def _review(actor, record, *, password, comment="", meaning="reviewed", username=None):
    """A minimal signing service, as a domain app would write one."""
    with signing_atomic():
        return sign(record, actor, password, meaning, comment, username=username)


@pytest.mark.django_db
def test_P4_generic_sign_view_signs_with_chosen_meaning(record, signer, rf):
    from django.contrib.messages.storage.fallback import FallbackStorage

    from qcare.core.views_mech import SignView
    from qcare.sample.models import SampleRecord

    view = SignView.as_view(
        model=SampleRecord, service=_review, meanings=("reviewed", "rejected"), success_url="/done/"
    )
    request = rf.post(
        "/", {"meaning": "rejected", "username": signer.username, "password": PASSWORD, "comment": "尺寸不符"}
    )
    request.user, request.session = signer, {}
    request._messages = FallbackStorage(request)
    response = view(request, pk=record.pk)
    assert response.status_code == 302 and response.url == "/done/"
    [signature] = Signature.objects.all()
    assert signature.meaning == "rejected" and signature.comment == "尺寸不符"


@pytest.mark.django_db
def test_P4_generic_sign_view_out_of_scope_is_404(record, make_user, rf):
    from django.http import Http404

    from qcare.core.views_mech import SignView
    from qcare.sample.models import SampleRecord

    outsider = make_user("outsider")
    view = SignView.as_view(model=SampleRecord, service=_review)
    request = rf.get("/")
    request.user = outsider
    with pytest.raises(Http404):
        view(request, pk=record.pk)


@pytest.mark.django_db
def test_P4_unlock_screen(client, signer, make_user):
    from django.utils import timezone

    type(signer).objects.filter(pk=signer.pk).update(signing_locked_at=timezone.now(), signing_failures=5)
    unlocker = make_user(perms=["signatures.unlock"])
    client.force_login(unlocker)
    url = reverse("core:signing_unlock", kwargs={"user_id": signer.pk})
    assert client.get(url).status_code == 200
    assert client.post(url, {"reason": ""}).status_code == 200
    assert _reload(signer).signing_locked_at is not None
    assert client.post(url, {"reason": "已核实"}).status_code == 302
    assert _reload(signer).signing_locked_at is None


def test_P4_first_signature_after_sign_in_needs_user_name_too(client, signer, record):
    """21 CFR Part 11 §11.200: both components on the first signing of a session, then the password."""
    client.force_login(signer)
    url = reverse("sample:approve", args=[record.pk])
    assert 'name="username"' in client.get(url).content.decode()
    # Another person's user name with my password is refused and counted.
    response = client.post(url, {"username": "someone_else", "password": PASSWORD, "meaning": "approved"})
    assert response.status_code == 200 and "不正确" in response.content.decode()
    signer.refresh_from_db()
    assert signer.signing_failures == 1
    response = client.post(url, {"username": signer.username, "password": PASSWORD, "meaning": "approved"})
    assert response.status_code == 302
    # Later signatures in the same session ask for the password only.
    from qcare.sample.models import SampleRecord

    with transaction.atomic():
        other = SampleRecord.objects.create(number="SMP-2026-0002", title="第二条", owner=record.owner)
    assert 'name="username"' not in client.get(reverse("sample:approve", args=[other.pk])).content.decode()
    # A new sign-in is a session break: both components again.
    client.logout()
    client.force_login(signer)
    assert 'name="username"' in client.get(reverse("sample:approve", args=[other.pk])).content.decode()
