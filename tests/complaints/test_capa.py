"""Corrective and preventive actions through their services (SPEC R-CO-6): a CAPA from a
complaint with containment, 5-why and fishbone analysis, actions with owners, due dates and
reminder times on the business calendar, submission only when every action is finished,
verification of effectiveness signed by quality (and invalidated by a later edit), not
effective → back to work, cancellation, and who may do what."""

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import translation

from qcare.complaints import services_capa as capas
from qcare.complaints.choices import ActionStatus, CapaSource, CapaStatus
from qcare.complaints.models import Capa, CapaAction
from qcare.core.errors import Conflict, NotFound, NotPermitted, ReasonRequired, ValidationFailed
from qcare.core.signatures import SignatureRefused, valid_signatures
from qcare.notifications.models import Notification
from tests.personas import PERSONA_PASSWORD

SHANGHAI = ZoneInfo("Asia/Shanghai")
WHYS = [
    "血氧读数不稳定：探头与主机接触不良",
    "接插件簧片弹力不足",
    "簧片来料硬度低于图纸要求",
    "来料检验未检测硬度",
    "检验规程未列出该项目",
]
FISHBONE = {
    "material": "簧片硬度不足（供应商换料未通知）",
    "method": "来料检验规程缺少硬度检验",
    "man": "",
}


@pytest.fixture(autouse=True)
def _english():
    """Messages in English in these tests (the company default is zh-Hans)."""
    with translation.override("en"):
        yield


def at(*args):
    return datetime(*args, tzinfo=SHANGHAI)


def inbox(user, template):
    return Notification.objects.filter(recipient=user, channel="inbox", template=f"complaints/{template}")


@pytest.fixture
def complaint(complaint_row, device):
    return complaint_row(product=device, cause_category="material", root_cause="簧片硬度不足")


@pytest.fixture
def capa(quality_engineer, complaint):
    return capas.open_capa(
        quality_engineer,
        source=CapaSource.COMPLAINT,
        title="监护仪血氧探头接触不良",
        problem="3 台监护仪血氧读数不稳定。",
        owner=quality_engineer,
        complaints=[complaint],
    )


def analyse(actor, capa, **fields):
    values = {
        "containment": "库存 L2609-01 全部隔离复检。",
        "why_analysis": WHYS,
        "fishbone": FISHBONE,
        "root_cause": "来料检验规程未包含簧片硬度检验。",
    } | fields
    return capas.update_analysis(actor, capa, **values)


def action(actor, capa, owner, due_on=None, kind="corrective", description="来料检验规程增加硬度检验"):
    return capas.add_action(
        actor, capa, kind=kind, description=description, owner=owner, due_on=due_on or date(2099, 1, 15)
    )


def verify(user, capa, effective=True, **kwargs):
    return capas.verify_capa(
        user,
        capa,
        effective=effective,
        verification="连续三个月无同类投诉。",
        password=PERSONA_PASSWORD,
        **kwargs,
    )


# --- the full CAPA --------------------------------------------------------------------------
def test_R_CO_6_full_capa_from_a_complaint(
    capa, complaint, quality_engineer, reviewer_production, management_rep, device
):
    assert re.fullmatch(r"CA-\d{4}-\d{4}", capa.number)
    assert capa.status == CapaStatus.OPEN and capa.source == CapaSource.COMPLAINT
    assert capa.owner == quality_engineer and capa.department == quality_engineer.department
    assert capa.opened_by == quality_engineer
    # Product and cause category come from the complaint; the complaint links to the CAPA.
    assert (capa.product, capa.cause_category) == (device, "material")
    complaint.refresh_from_db()
    assert complaint.capa == capa
    assert list(capa.complaints.all()) == [complaint]

    analyse(quality_engineer, capa)
    capa.refresh_from_db()
    assert capa.why_analysis == WHYS
    assert capa.fishbone == {"material": FISHBONE["material"], "method": FISHBONE["method"]}
    assert capa.containment.startswith("库存")

    first = action(quality_engineer, capa, reviewer_production)
    second = action(
        quality_engineer, capa, quality_engineer, kind="preventive", description="供应商变更通知协议"
    )
    capa.refresh_from_db()
    assert capa.status == CapaStatus.IN_PROGRESS  # the first action starts the work
    assert inbox(reviewer_production, "capa_action_assigned").count() == 1
    assert not inbox(quality_engineer, "capa_action_assigned").exists()  # own action: no message

    capas.complete_action(reviewer_production, first, result="规程 QI-07 第 3 版已发布。")
    capas.complete_action(quality_engineer, second, result="协议已签署。")
    first.refresh_from_db()
    assert first.status == ActionStatus.DONE and first.done_at is not None
    assert inbox(quality_engineer, "capa_action_done").count() == 1  # from the production owner

    capas.submit_for_verification(quality_engineer, capa)
    capa.refresh_from_db()
    assert capa.status == CapaStatus.VERIFICATION
    assert inbox(management_rep, "capa_verification_requested").count() == 1

    verify(management_rep, capa)
    capa.refresh_from_db()
    assert capa.status == CapaStatus.CLOSED and capa.closed_at is not None
    assert capa.is_effective is True and capa.verified_by == management_rep
    assert capa.verification == "连续三个月无同类投诉。"
    (signature,) = valid_signatures(capa, "verified")
    assert signature.signer == management_rep and capa.verification_signature == signature
    assert capas.verification_valid(capa)
    assert inbox(quality_engineer, "capa_verified").count() == 1


def test_R_CO_6_a_capa_for_several_complaints(quality_engineer, complaint_row, device, accessory):
    rows = [complaint_row(product=device, cause_category="production") for _ in range(2)]
    capa = capas.open_capa(
        quality_engineer,
        source=CapaSource.COMPLAINT,
        title="焊接不良",
        problem="两起投诉",
        owner=quality_engineer,
        complaints=rows,
    )
    assert set(capa.complaints.all()) == set(rows)
    assert (capa.product, capa.cause_category) == (device, "production")
    mixed = [complaint_row(product=device), complaint_row(product=accessory)]
    capa = capas.open_capa(
        quality_engineer,
        source=CapaSource.COMPLAINT,
        title="t",
        problem="p",
        owner=quality_engineer,
        complaints=mixed,
    )
    assert capa.product is None  # no common product: left for the owner


def test_R_CO_6_open_capa_refusals(quality_engineer, sales_clerk, complaint, capa, complaint_row):
    base = {"source": CapaSource.COMPLAINT, "title": "t", "problem": "p", "owner": quality_engineer}
    before = Capa.objects.count()
    cases = [
        ({"title": ""}, "title"),
        ({"problem": " "}, "problem"),
        ({"source": "rumour"}, "source"),
        ({"owner": sales_clerk}, "owner"),  # may not work on CAPAs
        ({"complaints": []}, "complaints"),
        ({"complaints": [complaint]}, "complaints"),  # already linked to ``capa``
        ({"source": CapaSource.FEEDBACK, "complaints": []}, "feedback"),
        ({"due_on": date(2000, 1, 1), "complaints": [complaint_row()]}, "due_on"),
        ({"cause_category": "bad luck", "complaints": [complaint_row()]}, "cause_category"),
    ]
    for fields, field in cases:
        with pytest.raises(ValidationFailed) as caught:
            capas.open_capa(quality_engineer, **(base | fields))
        assert field in caught.value.errors, fields
    assert Capa.objects.count() == before
    complaint.refresh_from_db()
    assert complaint.capa == capa


# --- analysis -----------------------------------------------------------------------------------
def test_R_CO_6_analysis_is_structured(capa, quality_engineer):
    for fields, field in [
        ({"why_analysis": [*WHYS, "第六个为什么"]}, "why_analysis"),
        ({"why_analysis": "一个字符串"}, "why_analysis"),
        ({"why_analysis": ["a", "", "c"]}, "why_analysis"),
        ({"fishbone": {"money": "预算不足"}}, "fishbone"),
        ({"fishbone": ["material"]}, "fishbone"),
    ]:
        with pytest.raises(ValidationFailed) as caught:
            analyse(quality_engineer, capa, **fields)
        assert field in caught.value.errors, fields
    capa.refresh_from_db()
    assert capa.why_analysis == [] and capa.fishbone == {}
    analyse(
        quality_engineer,
        capa,
        why_analysis=["接触不良", "簧片弹力不足", "", ""],  # trailing empty steps of a form are dropped
        fishbone={"environment": "潮湿", "man": "新员工", "machine": " "},
    )
    capa.refresh_from_db()
    assert capa.why_analysis == ["接触不良", "簧片弹力不足"]
    assert list(capa.fishbone) == ["man", "environment"]  # in the order of the diagram


# --- actions and the business calendar ----------------------------------------------------------
def test_R_CO_6_action_reminder_and_escalation_on_the_calendar(capa, quality_engineer, reviewer_production):
    """Due Friday 13 March: reminded 2 working days before (Wednesday 08:30), escalated to the
    CAPA owner 2 working days after the due date (Wednesday 18 March 08:30)."""
    with time_machine.travel(at(2026, 3, 2, 9, 0), tick=False):
        item = action(quality_engineer, capa, reviewer_production, due_on=date(2026, 3, 13))
    assert item.remind_at == at(2026, 3, 11, 8, 30)
    assert item.escalate_at == at(2026, 3, 18, 8, 30)
    assert item.status == ActionStatus.OPEN


def test_R_CO_6_action_times_across_the_national_day(capa, quality_engineer, reviewer_production):
    # Due Friday 9 October: the working days before are 8 October and 30 September; after it,
    # Saturday 10 October (adjusted working day), Monday 12 → escalation Tuesday 13 08:30.
    with time_machine.travel(at(2026, 9, 1, 9, 0), tick=False):
        item = action(quality_engineer, capa, reviewer_production, due_on=date(2026, 10, 9))
    assert item.remind_at == at(2026, 9, 30, 8, 30)
    assert item.escalate_at == at(2026, 10, 13, 8, 30)


def test_R_CO_6_reminder_of_an_action_due_soon_is_not_in_the_past(
    capa, quality_engineer, reviewer_production
):
    with time_machine.travel(at(2026, 3, 12, 10, 0), tick=False):
        item = action(quality_engineer, capa, reviewer_production, due_on=date(2026, 3, 13))
        assert item.remind_at == at(2026, 3, 12, 10, 0)


def test_R_CO_6_action_refusals(capa, quality_engineer, sales_clerk):
    for fields, field in [
        ({"kind": "wishful"}, "kind"),
        ({"description": ""}, "description"),
        ({"owner": sales_clerk}, "owner"),
        ({"due_on": date(2000, 1, 1)}, "due_on"),
        ({"due_on": "31.12.2099"}, "due_on"),
    ]:
        values = {
            "kind": "corrective",
            "description": "d",
            "owner": quality_engineer,
            "due_on": date(2099, 1, 1),
        }
        with pytest.raises(ValidationFailed) as caught:
            capas.add_action(quality_engineer, capa, **(values | fields))
        assert field in caught.value.errors, fields
    assert not CapaAction.objects.exists()
    capa.refresh_from_db()
    assert capa.status == CapaStatus.OPEN


def test_R_CO_6_only_the_action_or_capa_owner_completes_it(
    capa, quality_engineer, reviewer_production, reviewer_rnd, management_rep
):
    item = action(quality_engineer, capa, reviewer_production)
    with pytest.raises(NotFound):  # R&D does not see production's action of a quality CAPA
        capas.complete_action(reviewer_rnd, item, result="x")
    with pytest.raises(NotPermitted):  # sees everything, but holds no capa.change
        capas.complete_action(management_rep, item, result="x")
    with pytest.raises(ValidationFailed):
        capas.complete_action(reviewer_production, item, result=" ")
    with pytest.raises(NotPermitted):  # only the CAPA owner cancels
        capas.cancel_action(reviewer_production, item, reason="不需要")
    item.refresh_from_db()
    assert item.status == ActionStatus.OPEN
    capas.complete_action(quality_engineer, item, result="由 CAPA 负责人代为确认完成")
    item.refresh_from_db()
    assert item.status == ActionStatus.DONE
    with pytest.raises(Conflict):
        capas.complete_action(reviewer_production, item, result="again")


def test_R_CO_6_cancelled_action_keeps_its_reason(capa, quality_engineer, reviewer_production):
    item = action(quality_engineer, capa, reviewer_production)
    with pytest.raises(ReasonRequired):
        capas.cancel_action(quality_engineer, item, reason="")
    capas.cancel_action(quality_engineer, item, reason="由预防措施覆盖")
    item.refresh_from_db()
    assert (item.status, item.result) == (ActionStatus.CANCELLED, "由预防措施覆盖")
    assert inbox(reviewer_production, "capa_action_cancelled").count() == 1


# --- verification ---------------------------------------------------------------------------------
def test_R_CO_6_cannot_submit_for_verification_with_open_actions(capa, quality_engineer, reviewer_production):
    analyse(quality_engineer, capa)
    done = action(quality_engineer, capa, quality_engineer)
    action(quality_engineer, capa, reviewer_production)
    capas.complete_action(quality_engineer, done, result="完成")
    with pytest.raises(Conflict) as caught:
        capas.submit_for_verification(quality_engineer, capa)
    assert str(caught.value) == "1 action is still open: complete or cancel it first."
    capa.refresh_from_db()
    assert capa.status == CapaStatus.IN_PROGRESS


def test_R_CO_6_submission_needs_root_cause_and_a_done_action(capa, quality_engineer):
    with pytest.raises(Conflict):  # nothing planned yet: still OPEN
        capas.submit_for_verification(quality_engineer, capa)
    item = action(quality_engineer, capa, quality_engineer)
    capas.cancel_action(quality_engineer, item, reason="重复")
    with pytest.raises(Conflict) as caught:
        capas.submit_for_verification(quality_engineer, capa)
    problems = caught.value.errors["__all__"]
    assert "Write the root cause first." in problems
    assert "At least one action must be done." in problems
    capa.refresh_from_db()
    assert capa.status == CapaStatus.IN_PROGRESS


@pytest.fixture
def awaiting_verification(capa, quality_engineer, reviewer_production):
    analyse(quality_engineer, capa)
    item = action(quality_engineer, capa, reviewer_production)
    capas.complete_action(reviewer_production, item, result="规程已修订")
    return capas.submit_for_verification(quality_engineer, capa)


def test_R_CO_6_not_effective_goes_back_to_work(awaiting_verification, management_rep, quality_engineer):
    capa = verify(management_rep, awaiting_verification, effective=False)
    capa.refresh_from_db()
    assert capa.status == CapaStatus.IN_PROGRESS and capa.is_effective is False
    assert capa.closed_at is None
    assert len(valid_signatures(capa, "verified")) == 1  # the verdict "not effective" is signed too
    assert inbox(quality_engineer, "capa_verified").count() == 1
    # Back to work: a further action is planned, done, and the CAPA is verified again.
    item = action(quality_engineer, capa, quality_engineer, description="更换簧片供应商")
    capas.complete_action(quality_engineer, item, result="已更换")
    capas.submit_for_verification(quality_engineer, capa)
    verify(management_rep, capa)
    capa.refresh_from_db()
    assert capa.status == CapaStatus.CLOSED
    assert capas.verification_valid(capa)


def test_R_CO_6_verification_signature_is_invalidated_by_a_later_edit(
    awaiting_verification, management_rep, quality_engineer
):
    capa = verify(management_rep, awaiting_verification, effective=False)
    assert capas.verification_valid(capa)
    analyse(quality_engineer, capa, root_cause="根本原因：供应商换料未通知，来料检验未覆盖硬度。")
    capa.refresh_from_db()
    assert not capas.verification_valid(capa)
    assert valid_signatures(capa, "verified") == []


def test_R_CO_6_editing_only_the_5_why_or_fishbone_invalidates_the_verification(
    awaiting_verification, management_rep, quality_engineer
):
    capa = verify(management_rep, awaiting_verification, effective=False)
    analyse(quality_engineer, capa, why_analysis=WHYS[:4])
    capa.refresh_from_db()
    assert not capas.verification_valid(capa)


def test_R_CO_6_wrong_password_signs_nothing(awaiting_verification, management_rep):
    capa = awaiting_verification
    with pytest.raises(SignatureRefused):
        capas.verify_capa(management_rep, capa, effective=True, verification="有效", password="wrong")
    capa.refresh_from_db()
    assert capa.status == CapaStatus.VERIFICATION
    assert capa.verification == "" and capa.verified_by is None and capa.is_effective is None
    with pytest.raises(ValidationFailed):
        capas.verify_capa(management_rep, capa, effective=True, verification="", password=PERSONA_PASSWORD)


def test_R_CO_6_only_quality_verifies(awaiting_verification, reviewer_production, quality_engineer):
    with pytest.raises(NotPermitted):
        verify(reviewer_production, awaiting_verification)
    verify(quality_engineer, awaiting_verification)  # quality engineers hold capa.verify
    awaiting_verification.refresh_from_db()
    assert awaiting_verification.status == CapaStatus.CLOSED


def test_R_CO_6_closed_capa_cannot_be_changed(awaiting_verification, management_rep, quality_engineer):
    capa = verify(management_rep, awaiting_verification)
    for call in (
        lambda: analyse(quality_engineer, capa),
        lambda: action(quality_engineer, capa, quality_engineer),
        lambda: capas.cancel_capa(quality_engineer, capa, reason="x"),
        lambda: verify(management_rep, capa),
    ):
        with pytest.raises(Conflict):
            call()
    assert capas.verification_valid(capa)


# --- cancellation and permissions -----------------------------------------------------------------
def test_R_CO_6_cancel_unlinks_complaints_and_cancels_actions(
    capa, complaint, quality_engineer, reviewer_production
):
    item = action(quality_engineer, capa, reviewer_production)
    with pytest.raises(ReasonRequired):
        capas.cancel_capa(quality_engineer, capa, reason="")
    capas.cancel_capa(quality_engineer, capa, reason="与 CA-2026-0002 合并处理")
    capa.refresh_from_db()
    item.refresh_from_db()
    complaint.refresh_from_db()
    assert capa.status == CapaStatus.CANCELLED and capa.cancel_reason == "与 CA-2026-0002 合并处理"
    assert item.status == ActionStatus.CANCELLED
    assert complaint.capa is None  # free for another CAPA
    assert inbox(reviewer_production, "capa_cancelled").count() == 1


def test_R_CO_6_permissions_and_scope(
    capa, sales_clerk, reviewer_production, reviewer_purchasing, quality_engineer, management_rep, auditor
):
    with pytest.raises(NotPermitted):
        capas.open_capa(sales_clerk, source="other", title="t", problem="p", owner=quality_engineer)
    with pytest.raises(NotPermitted):  # views only
        analyse(auditor, capa)
    with pytest.raises(NotFound):  # production sees no CAPA of quality's …
        analyse(reviewer_production, capa)
    action(quality_engineer, capa, reviewer_production)

    def visible(user):
        return Capa.objects.restrict(user, "view").filter(pk=capa.pk).exists()

    assert visible(reviewer_production)  # … until it owns one of its actions
    assert not visible(reviewer_purchasing)
    assert visible(quality_engineer) and visible(management_rep) and visible(auditor)
    assert not visible(sales_clerk)
