"""Customer search, Chinese and Latin (R-CU-1): search_text, the index and its sync.

Runs on both engines: SQLite answers through the FTS5 trigram table (+ LIKE for 1–2
character words), PostgreSQL through the pg_trgm GIN index. Customers are written with the
ORM (tests/customers/conftest.py) and their search text refreshed here, so these tests do
not depend on the services being finished.
"""

import pytest
from django.db import connection, transaction

from qcare.accounts.models import Role, RolePermission
from qcare.accounts.permissions import clear_cache
from qcare.audit.models import AuditEntry
from qcare.core.context import audit_context
from qcare.customers import search
from qcare.customers.models import Contact, Customer
from qcare.customers.search import build_search_text, refresh_search_text, search_customers


def _customer(make_customer, owner, **fields):
    customer = make_customer(owner, **fields)
    refresh_search_text(customer)
    return customer


def _found(term, queryset=None):
    queryset = Customer.objects.all() if queryset is None else queryset
    return set(search_customers(queryset, term).values_list("name", flat=True))


@pytest.fixture
def customers(make_customer, sales_clerk, sales_clerk_2):
    """A small customer file with Chinese and Latin names, contacts and phones."""
    _customer(
        make_customer,
        sales_clerk,
        name="北京协和医院",
        short_name="协和",
        region="北京市东城区",
        tax_id="12100000400000624D",
        contacts=[
            {"name": "张三丰", "phone": "010-6529 5000", "mobile": "138 0013 8000", "email": "Zhang@PUMCH.cn"}
        ],
    )
    _customer(
        make_customer,
        sales_clerk,
        name="Mindray Medical International",
        short_name="MINDRAY",
        region="深圳",
        is_foreign=True,
        contacts=[{"name": "John Smith", "phone": "+49 30 1234567"}],
    )
    _customer(
        make_customer,
        sales_clerk_2,
        name="上海瑞金医院",
        short_name="瑞金",
        region="上海市",
        type_code="hospital",
        contacts=[{"name": "李协", "phone": "021-64370045"}],
    )
    _customer(
        make_customer,
        sales_clerk_2,
        name="达标率100%医疗器械有限公司",
        region="广州",
        type_code="distributor",
    )
    return Customer.objects.order_by("code")


def test_R_CU_1_search_text_covers_names_code_tax_id_region_and_contacts(make_customer, sales_clerk):
    customer = make_customer(
        sales_clerk,
        name="Wuhan  Union Hospital",
        short_name="协和",
        region="湖北 武汉",
        tax_id="91420100MA4K",
    )
    contact = Contact(name="王五", phone="(027) 8572-6114", mobile="+86 139 0000 1111", email="Wang@Union.CN")
    text = build_search_text(customer, contacts=[contact])
    for part in (
        customer.code.lower(),
        "wuhan union hospital",  # lowercased, inner whitespace collapsed
        "协和",
        "湖北 武汉",
        "91420100ma4k",
        "王五",
        "(027) 8572-6114",
        "02785726114",  # digits only as well
        "8613900001111",
        "wang@union.cn",
    ):
        assert part in text, part
    assert text == text.lower() and "\n" not in text


def test_R_CU_1_search_text_reads_active_contacts_of_a_saved_customer(make_customer, sales_clerk):
    customer = make_customer(
        sales_clerk, name="测试", contacts=[{"name": "在职联系人"}, {"name": "离职联系人"}]
    )
    Contact.objects.filter(name="离职联系人").update(is_active=False)
    text = build_search_text(customer)
    assert "在职联系人" in text
    assert "离职联系人" not in text


def test_R_CU_1_refresh_search_text_neither_audits_nor_bumps_the_version(make_customer, sales_clerk):
    customer = make_customer(sales_clerk, name="无锡人民医院")
    version, updated_at = customer.version, customer.updated_at
    entries = AuditEntry.objects.count()
    refresh_search_text(customer)
    stored = Customer.objects.get(pk=customer.pk)
    assert "无锡人民医院" in stored.search_text
    assert customer.search_text == stored.search_text
    assert (stored.version, stored.updated_at) == (version, updated_at)
    assert AuditEntry.objects.count() == entries


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("协和", {"北京协和医院"}),  # 2-character Chinese (below the trigram length)
        ("协和医院", {"北京协和医院"}),  # 4-character Chinese (trigram index)
        ("医院", {"北京协和医院", "上海瑞金医院"}),
        ("mindray", {"Mindray Medical International"}),
        ("MinDRAY medical", {"Mindray Medical International"}),  # case-insensitive, words ANDed
        ("北京 协和", {"北京协和医院"}),
        ("北京 瑞金", set()),  # AND, not OR
        ("张三丰", {"北京协和医院"}),  # contact name
        ("张三", {"北京协和医院"}),
        ("李协", {"上海瑞金医院"}),
        ("01065295000", {"北京协和医院"}),  # phone as digits though stored as 010-6529 5000
        ("6529", {"北京协和医院"}),
        ("010-6529", {"北京协和医院"}),
        ("13800138000", {"北京协和医院"}),  # mobile digits
        ("zhang@pumch", {"北京协和医院"}),  # work e-mail
        ("12100000400000624d", {"北京协和医院"}),  # tax id, any case
        ("深圳", {"Mindray Medical International"}),  # region
        ("100%", {"达标率100%医疗器械有限公司"}),  # % is a character, not a wildcard
    ],
)
def test_R_CU_1_search_finds_chinese_latin_code_phone_contact_and_tax_id(customers, term, expected):
    assert _found(term) == expected


def test_R_CU_1_short_words_at_the_very_end_of_the_text_and_single_characters(make_customer, sales_clerk):
    # No contacts: the region is the last field, so "浙江" is followed only by the sentinel.
    _customer(make_customer, sales_clerk, name="杭州市第一人民医院", region="浙江")
    _customer(make_customer, sales_clerk, name="温州医科大学附属第一医院", region="浙江温州")
    assert _found("浙江") == {"杭州市第一人民医院", "温州医科大学附属第一医院"}
    assert _found("江") == {"杭州市第一人民医院", "温州医科大学附属第一医院"}  # one character
    assert _found("温") == {"温州医科大学附属第一医院"}
    assert _found("zz") == set()  # no trigram starts with it: no error, no rows


def test_R_CU_1_search_by_customer_code_any_case(customers):
    first = customers.first()
    assert _found(first.code.lower()) == {first.name}
    assert _found(first.code) == {first.name}


def test_R_CU_1_blank_term_returns_the_queryset_unchanged(customers):
    for term in ("", "   ", None, "\t\n"):
        assert search_customers(customers, term) is customers


@pytest.mark.parametrize(
    "term",
    [
        "%",
        "_",
        "%%",
        "a_b",
        "\\",
        '"',
        '""',
        "'",
        "*",
        "协*",
        "NEAR",
        "NEAR(协和 医院)",
        "协和 OR 瑞金",
        "AND",
        "NOT 协和",
        "-协和",
        "^协和",
        "search_text:协和",
        "{search_text}: 协和",
        "(",
        ")",
        "协和\x00医院",
        "'; DROP TABLE customers_customer; --",
        "ab",
        "a",
        "协",
    ],
)
def test_R_CU_1_special_characters_never_error(customers, term):
    with transaction.atomic():  # an SQL error would break the test transaction on PostgreSQL
        rows = list(search_customers(customers, term).values_list("name", flat=True))
    if term == "%":
        assert rows == ["达标率100%医疗器械有限公司"]  # literally, the only name with a %
    if term in ("_", "%%", "a_b", "\\", '"', '""', "'", "*", "NEAR", "AND", "(", ")"):
        assert rows == []  # no wildcard, no operator: nothing in the file contains these
    assert Customer.objects.count() == 4


def test_R_CU_1_fts_operators_are_plain_text(customers):
    # "协和 OR 瑞金" is three ANDed words, not an OR: no customer contains the word "or".
    assert _found("协和 OR 瑞金") == set()
    assert _found("协和*") == set()


def test_P7_search_keeps_the_scope_of_a_restricted_queryset(customers, sales_clerk, sales_clerk_2):
    role = Role.objects.get(code="sales_clerk")
    RolePermission.objects.update_or_create(role=role, permission="customers.view", defaults={"scope": "own"})
    for user in (sales_clerk, sales_clerk_2):
        clear_cache(user)
    own = Customer.objects.restrict(sales_clerk, "view")
    assert _found("医院", own) == {"北京协和医院"}
    assert _found("医院", Customer.objects.restrict(sales_clerk_2, "view")) == {"上海瑞金医院"}
    assert _found("mindray", Customer.objects.restrict(sales_clerk_2, "view")) == set()


def test_R_CU_1_search_keeps_ordering_and_limit(customers):
    ordered = search_customers(Customer.objects.order_by("-code"), "医")
    names = list(ordered.values_list("name", flat=True)[:2])
    assert names == ["达标率100%医疗器械有限公司", "上海瑞金医院"]
    trigram = search_customers(Customer.objects.order_by("-code"), "医院")
    assert list(trigram.values_list("name", flat=True)[:1]) == ["上海瑞金医院"]


def test_R_CU_1_index_follows_updates_and_deletes(customers, sales_clerk):
    customer = Customer.objects.get(name="北京协和医院")
    with audit_context(actor=sales_clerk, reason="更名"):
        customer.name = "中国医学科学院北京协和医院"
        customer.short_name = "协和医科"
        customer.save()
    refresh_search_text(customer)
    assert _found("医学科学院") == {"中国医学科学院北京协和医院"}
    assert _found("协和医科") == {"中国医学科学院北京协和医院"}
    with audit_context(actor=sales_clerk, reason="测试删除"):
        Customer.objects.get(name="上海瑞金医院").delete()
    assert _found("瑞金医院") == set()
    assert _found("上海市") == set()
    # A customer created later is found at once (the insert trigger / the GIN index).
    _customer_row = Customer.objects.get(name="达标率100%医疗器械有限公司")
    with audit_context(actor=sales_clerk, reason="补充"):
        Contact.objects.create(customer=_customer_row, name="欧阳娜娜", phone="020-12345678")
    refresh_search_text(_customer_row)
    assert _found("欧阳娜娜") == {"达标率100%医疗器械有限公司"}
    assert _found("02012345678") == {"达标率100%医疗器械有限公司"}


@pytest.mark.sqlite_only
def test_R_CU_1_sqlite_fts_table_stays_consistent_with_the_base_table(customers, sales_clerk):
    customer = Customer.objects.get(name="北京协和医院")
    with audit_context(actor=sales_clerk, reason="更名"):
        customer.name = "北京协和医院（东院）"
        customer.save()
    refresh_search_text(customer)
    with audit_context(actor=sales_clerk, reason="测试删除"):
        Customer.objects.get(name="上海瑞金医院").delete()
    with connection.cursor() as cursor:
        # integrity-check with rank 1 compares the index with the content table row by row.
        cursor.execute(
            "INSERT INTO customers_customer_fts(customers_customer_fts, rank) VALUES ('integrity-check', 1)"
        )
        cursor.execute(
            "SELECT rowid FROM customers_customer_fts WHERE customers_customer_fts MATCH '\"瑞金医\"'"
        )
        assert cursor.fetchall() == []  # the delete trigger removed the row from the index itself
        cursor.execute(
            "SELECT rowid FROM customers_customer_fts WHERE customers_customer_fts MATCH '\"东院\"'"
        )
        assert cursor.fetchall() == []  # fewer than 3 characters: never a trigram match
        cursor.execute(
            "SELECT rowid FROM customers_customer_fts WHERE customers_customer_fts MATCH '\"（东院\"'"
        )
        assert cursor.fetchall() == [(customer.pk,)]


@pytest.mark.sqlite_only
def test_R_CU_1_sqlite_uses_the_fts_index_for_long_terms(customers):
    sql, params = search_customers(Customer.objects.order_by("code"), "协和医院")[:50].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())
    assert "VIRTUAL TABLE INDEX" in plan and "customers_customer_fts" in plan, plan


@pytest.mark.sqlite_only
def test_R_CU_1_sqlite_answers_two_character_words_from_the_index_vocabulary(customers):
    sql, params = search_customers(Customer.objects.order_by("code"), "协和")[:50].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())
    assert "customers_customer_fts_vocab VIRTUAL TABLE INDEX" in plan, plan
    assert "SCAN customers_customer " not in f"{plan} ", plan  # no scan of the base table


@pytest.mark.sqlite_only
def test_R_CU_6_purge_index_removes_replaced_personal_data_from_the_fts_segments(customers):
    customer = Customer.objects.get(name="北京协和医院")
    Contact.objects.filter(customer=customer).update(name="***", phone="", mobile="", email="")
    refresh_search_text(customer)

    def index_bytes():
        with connection.cursor() as cursor:
            cursor.execute("SELECT block FROM customers_customer_fts_data")
            return b"".join(bytes(row[0] or b"") for row in cursor.fetchall())

    assert b"@pu" in index_bytes()  # the old trigrams (zhang@pumch.cn) are still stored …
    assert _found("zhang@pumch") == set()  # … though no longer found
    search.purge_index()
    assert b"@pu" not in index_bytes()
    assert _found("协和医院") == {"北京协和医院"}


@pytest.mark.sqlite_only
def test_R_CU_1_lost_sqlite_triggers_are_reinstalled(customers, sales_clerk):
    # Django rebuilds a SQLite table on most ALTERs and the triggers go with the old table.
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER customers_customer_fts_au")
    assert not search.index_is_intact(connection)
    search.ensure_index()
    assert search.index_is_intact(connection)
    customer = Customer.objects.get(name="上海瑞金医院")
    with audit_context(actor=sales_clerk, reason="更名"):
        customer.name = "上海交通大学医学院附属瑞金医院"
        customer.save()
    refresh_search_text(customer)
    assert _found("交通大学") == {"上海交通大学医学院附属瑞金医院"}


@pytest.mark.postgres_only
def test_R_CU_1_postgresql_search_can_use_the_trigram_index(customers):
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'customers_customer_search_trgm'")
        assert "gin_trgm_ops" in cursor.fetchone()[0]
        # pg_trgm only makes trigrams of characters the database's LC_CTYPE calls letters:
        # under a non-UTF-8 "C" ctype Chinese would yield none and the index could not help.
        cursor.execute("SELECT show_trgm('协和医院')")
        assert len(cursor.fetchone()[0]) >= 2
        unordered = search_customers(Customer.objects.order_by(), "协和医院")
        sql, params = unordered.query.sql_with_params()
        # Four rows never make an index scan the cheapest plan; forbid the seq scan to see
        # whether the query's form can use the index at all (icontains could not).
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "customers_customer_search_trgm" in plan, plan
