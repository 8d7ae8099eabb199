"""Complaint search, Chinese and Latin (R-CO-2 list, R-CO-11): search_text, the index and its sync.

Runs on both engines: SQLite answers through the FTS5 trigram table ``complaints_complaint_fts``
(vocabulary OR for 2-character words, ``instr`` for 1), PostgreSQL through the pg_trgm GIN index.
Complaints are written with ``complaint_row`` (ORM) and their text refreshed here as the
services do, so these tests do not depend on the workflow services.
"""

from decimal import Decimal

import pytest
from django.db import connection, transaction

from qcare.accounts.models import Role, RolePermission
from qcare.accounts.permissions import clear_cache
from qcare.audit.models import AuditEntry
from qcare.complaints import search
from qcare.complaints.models import Complaint
from qcare.complaints.search import build_search_text, refresh_search_text, search_complaints
from qcare.core.context import audit_context
from qcare.core.textsearch import SENTINEL, TextIndex
from tests.customers.conftest import create_customer_row


@pytest.fixture
def indexed(complaint_row):
    """``complaint_row`` with the search text refreshed (as register_complaint does)."""

    def build(**fields):
        complaint = complaint_row(**fields)
        refresh_search_text(complaint)
        return complaint

    return build


@pytest.fixture
def complaints(indexed, distributor, hospital, device, accessory, shipped_lot, sales_clerk_2):
    """A few complaints with Chinese and Latin text, lots, serials and a hostile description."""
    other = create_customer_row(sales_clerk_2, type_code="hospital", name="上海瑞金医院", short_name="瑞金")
    return {
        "spo2": indexed(
            number="KS-2609-001",
            customer=distributor,
            product=device,
            lot_number="L2609-01",
            serial_number="SN-000123",
            order=shipped_lot.order,
            contact_name="陈经理",
            contact_phone="020-8888 6666",
            description="3 台监护仪开机后血氧读数不稳定，客户要求换货。SpO2 reading unstable.",
        ),
        "paper": indexed(
            number="KS-2609-002",
            customer=hospital,
            product=accessory,
            lot_number="P2608-17",
            part_number="PN-80MM",
            order_reference="HT-2026-0042",
            description="打印纸卷芯松动，包装破损。",
        ),
        "html": indexed(
            number="KS-2609-003",
            customer=other,
            registered_by=sales_clerk_2,
            description='<script>alert("x")</script> 显示屏 <b>闪烁</b> 100% 复现 a_b',
        ),
    }


def _found(term, queryset=None):
    queryset = Complaint.objects.all() if queryset is None else queryset
    return set(search_complaints(queryset, term).values_list("number", flat=True))


def test_R_CO_2_search_text_covers_number_customer_product_lot_serial_order_contact_description(
    complaints, distributor, device, shipped_lot
):
    complaint = Complaint.objects.get(number="KS-2609-001")
    text = build_search_text(complaint)
    for part in (
        "ks-2609-001",
        distributor.code.lower(),
        "广州康达医疗器械有限公司",
        device.code.lower(),
        device.name.lower(),
        "l2609-01",
        "sn-000123",
        shipped_lot.order.number.lower(),
        "陈经理",
        "020-8888 6666",
        "02088886666",  # the phone as bare digits too
        "血氧读数不稳定",
        "spo2 reading unstable",
    ):
        assert part in text, part
    assert text == text.lower() and "\n" not in text and text.endswith(SENTINEL)
    assert " | " in text  # fields are separated: a term never matches across two of them


def test_R_CO_2_search_text_of_an_unsaved_complaint_and_blank_fields(distributor, sales_clerk):
    complaint = Complaint(
        number="KS-X", customer=distributor, description="  多行\n描述  ", registered_by=sales_clerk
    )
    text = build_search_text(complaint)
    assert text.startswith("ks-x | ") and "多行 描述" in text
    assert " |  | " not in text  # blank fields leave no empty slots


def test_R_CO_2_refresh_search_text_neither_audits_nor_bumps_the_version(complaint_row):
    complaint = complaint_row(description="除颤仪电池鼓包")
    version, updated_at = complaint.version, complaint.updated_at
    entries = AuditEntry.objects.count()
    refresh_search_text(complaint)
    stored = Complaint.objects.get(pk=complaint.pk)
    assert "除颤仪电池鼓包" in stored.search_text
    assert complaint.search_text == stored.search_text
    assert (stored.version, stored.updated_at) == (version, updated_at)
    assert AuditEntry.objects.count() == entries


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("血氧", {"KS-2609-001"}),  # 2-character Chinese (below the trigram length)
        ("血氧读数", {"KS-2609-001"}),  # 4-character Chinese (trigram index)
        ("监护仪", {"KS-2609-001"}),  # 3 characters
        ("包装", {"KS-2609-002"}),
        ("破损", {"KS-2609-002"}),  # 2 characters just before the end of a field
        ("复现", {"KS-2609-003"}),
        ("瑞金", {"KS-2609-003"}),  # customer short name, 2 characters
        ("康达医疗", {"KS-2609-001"}),  # customer name
        ("spo2", {"KS-2609-001"}),
        ("SpO2 UNSTABLE", {"KS-2609-001"}),  # case-insensitive, words ANDed
        ("血氧 打印纸", set()),  # AND, not OR
        ("L2609-01", {"KS-2609-001"}),  # lot number, any case
        ("l2609", {"KS-2609-001"}),
        ("P2608-17", {"KS-2609-002"}),
        ("sn-000123", {"KS-2609-001"}),  # serial number
        ("pn-80mm", {"KS-2609-002"}),  # part number
        ("HT-2026-0042", {"KS-2609-002"}),  # order / contract reference
        ("ks-2609", {"KS-2609-001", "KS-2609-002", "KS-2609-003"}),  # number
        ("KS-2609-002", {"KS-2609-002"}),
        ("02088886666", {"KS-2609-001"}),  # contact phone as digits
        ("陈经理", {"KS-2609-001"}),
        ("100%", {"KS-2609-003"}),  # % is a character, not a wildcard
        ("a_b", {"KS-2609-003"}),  # _ is a character, not a wildcard
        ("<script>", {"KS-2609-003"}),  # HTML-like text is data
        ('alert("x")', {"KS-2609-003"}),
        ("<b>闪烁</b>", {"KS-2609-003"}),
        ("卷", {"KS-2609-002"}),  # one character
    ],
)
def test_R_CO_2_search_finds_chinese_latin_lot_serial_number_and_html_like_text(complaints, term, expected):
    assert _found(term) == expected


def test_R_CO_2_order_number_found_through_the_linked_order(complaints, shipped_lot):
    assert _found(shipped_lot.order.number) == {"KS-2609-001"}


def test_R_CO_2_blank_term_returns_the_queryset_unchanged(complaints):
    queryset = Complaint.objects.order_by("number")
    for term in ("", "   ", None, "\t\n"):
        assert search_complaints(queryset, term) is queryset


@pytest.mark.parametrize(
    "term",
    [
        "%",
        "_",
        "%%",
        "\\",
        '"',
        '""',
        "'",
        "*",
        "血*",
        "NEAR",
        "NEAR(血氧 读数)",
        "血氧 OR 包装",
        "AND",
        "NOT 血氧",
        "-血氧",
        "^血氧",
        "search_text:血氧",
        "{search_text}: 血氧",
        "(",
        ")",
        "血氧\x00读数",
        "'; DROP TABLE complaints_complaint; --",
        "</script><script>",
        "ab",
        "a",
    ],
)
def test_R_CO_2_fts_syntax_characters_are_data_and_never_error(complaints, term):
    with transaction.atomic():  # an SQL error would break the test transaction on PostgreSQL
        rows = list(search_complaints(Complaint.objects.all(), term).values_list("number", flat=True))
    if term in ("%", "_", "(", ")"):
        assert rows == ["KS-2609-003"]  # literally: 100%, a_b, alert("x")
    if term in ("%%", "\\", '""', "*", "血*", "NEAR", "AND", "血氧 OR 包装", "-血氧"):
        assert rows == []  # no wildcard, no operator: nothing contains these literally
    assert Complaint.objects.count() == 3


def test_P7_search_combined_with_the_scope_and_filters(complaints, sales_clerk, sales_clerk_2):
    role = Role.objects.get(code="sales_clerk")
    RolePermission.objects.update_or_create(
        role=role, permission="complaints.view", defaults={"scope": "own"}
    )
    for user in (sales_clerk, sales_clerk_2):
        clear_cache(user)
    mine = Complaint.objects.restrict(sales_clerk, "view")
    theirs = Complaint.objects.restrict(sales_clerk_2, "view")
    assert _found("ks-2609", mine) == {"KS-2609-001", "KS-2609-002"}
    assert _found("ks-2609", theirs) == {"KS-2609-003"}
    assert _found("血氧", theirs) == set()
    assert _found("复现", mine) == set()
    # search + status + customer filters + ordering + slicing together
    Complaint.objects.filter(number="KS-2609-002").update(status="triaged")
    triaged = mine.filter(status="triaged").order_by("-number")
    assert _found("ks-2609", triaged) == {"KS-2609-002"}
    page = search_complaints(mine.order_by("-number"), "ks-2609")[:1]
    assert [c.number for c in page] == ["KS-2609-002"]


def test_R_CO_2_index_follows_updates_and_deletes(complaints, sales_clerk):
    complaint = complaints["paper"]
    with audit_context(actor=sales_clerk, reason="更正"):
        complaint.description = "打印纸受潮发霉"
        complaint.save()
    refresh_search_text(complaint)
    assert _found("受潮发霉") == {"KS-2609-002"}
    assert _found("发霉") == {"KS-2609-002"}
    assert _found("包装破损") == set()
    # Other columns change without touching the index (and the text stays found).
    Complaint.objects.filter(pk=complaint.pk).update(status="triaged", loss_amount=Decimal("10"))
    assert _found("受潮") == {"KS-2609-002"}
    with audit_context(actor=sales_clerk, reason="测试删除"):
        Complaint.objects.get(pk=complaints["html"].pk).delete()
    assert _found("复现") == set()
    assert _found("<script>") == set()


@pytest.mark.sqlite_only
def test_R_CO_2_sqlite_fts_index_stays_consistent_with_the_table(complaints, sales_clerk):
    complaint = complaints["spo2"]
    with audit_context(actor=sales_clerk, reason="更正"):
        complaint.description = "血氧探头接触不良"
        complaint.save()
    refresh_search_text(complaint)
    Complaint.objects.filter(pk=complaint.pk).update(status="triaged")
    with audit_context(actor=sales_clerk, reason="测试删除"):
        Complaint.objects.get(pk=complaints["paper"].pk).delete()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO complaints_complaint_fts(complaints_complaint_fts, rank) VALUES ('integrity-check', 1)"
        )
        cursor.execute(
            "SELECT rowid FROM complaints_complaint_fts WHERE complaints_complaint_fts MATCH '\"探头接\"'"
        )
        assert cursor.fetchall() == [(complaint.pk,)]


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("term", "table"), [("血氧读数", "complaints_complaint_fts"), ("血氧", "_fts_vocab")]
)
def test_R_CO_2_sqlite_answers_from_the_index_without_scanning_the_table(complaints, term, table):
    queryset = search_complaints(Complaint.objects.filter(status="registered").order_by("-received_at"), term)
    sql, params = queryset[:50].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())
    assert table in plan and "VIRTUAL TABLE INDEX" in plan, plan


@pytest.mark.sqlite_only
def test_R_CO_2_lost_sqlite_triggers_are_reinstalled(complaints, sales_clerk):
    # Django rebuilds a SQLite table on most ALTERs and the triggers go with the old table.
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER complaints_complaint_fts_au")
    assert not search.index_is_intact(connection)
    search.ensure_index()
    assert search.index_is_intact(connection)
    complaint = complaints["paper"]
    with audit_context(actor=sales_clerk, reason="更正"):
        complaint.description = "热敏打印纸显色不均"
        complaint.save()
    refresh_search_text(complaint)
    assert _found("显色不均") == {"KS-2609-002"}


@pytest.mark.postgres_only
def test_R_CO_2_postgresql_search_can_use_the_trigram_index(complaints):
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'complaints_complaint_search_trgm'")
        assert "gin_trgm_ops" in cursor.fetchone()[0]
        sql, params = search_complaints(Complaint.objects.order_by(), "血氧读数").query.sql_with_params()
        # Three rows never make an index scan the cheapest plan; forbid the seq scan to see
        # whether the query's form can use the index at all (icontains could not).
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "complaints_complaint_search_trgm" in plan, plan


def test_textsearch_refuses_non_identifier_table_names():
    with pytest.raises(ValueError, match="identifier"):
        TextIndex("complaints; DROP TABLE x")
    assert TextIndex("complaints_complaint").fts == "complaints_complaint_fts"
