"""Customer search (Chinese and Latin), index-backed on both databases (R-CU-1).

Every customer carries ``search_text``: one lowercase line of its code, names, tax id,
region and its active contacts' names, phones (also as bare digits) and work e-mails.
Services call :func:`refresh_search_text` after every change that touches those fields.

The index (migration 0003, decision 1050):

* SQLite: an external-content FTS5 table ``customers_customer_fts`` with the ``trigram``
  tokenizer, kept in sync by triggers. Words of three or more characters are answered by
  ``MATCH``. Two-character words (Chinese names such as 协和 are common) are shorter than a
  trigram: they match the OR of the indexed trigrams that *start* with them, found by a
  range lookup in the index's ``fts5vocab`` table (the text ends with a sentinel so every
  occurrence starts a trigram). One-character words scan with ``instr()``. Decision 1051
  has the measurements.
* PostgreSQL: a ``pg_trgm`` GIN index on ``search_text``; case-sensitive ``LIKE`` (Django's
  ``contains``) uses it, ``icontains`` (``UPPER(…) LIKE UPPER(…)``) would not — hence the
  lowercase text and lowercase terms.

Several words are ANDed. The term is data, never syntax: FTS5 strings are quoted and
``%``/``_`` are escaped by Django's ``contains`` lookup (``instr`` has no wildcards).
"""

import re

from django.db import connections
from django.db.models import Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import StrIndex

FTS_TABLE = "customers_customer_fts"
#: Trigram tokenizers need at least this many characters to use the index.
MIN_INDEXED_LENGTH = 3
_NON_DIGITS = re.compile(r"\D+")
_FTS_MATCH = "SELECT rowid FROM customers_customer_fts WHERE customers_customer_fts MATCH %s"
#: A 2-character word: MATCH the OR of the indexed trigrams that start with it ('""' if none).
_FTS_PAIR_MATCH = (
    "SELECT rowid FROM customers_customer_fts WHERE customers_customer_fts MATCH coalesce(("
    "SELECT group_concat('\"' || replace(term, '\"', '\"\"') || '\"', ' OR ') "
    "FROM customers_customer_fts_vocab WHERE term >= %s AND term < %s), '\"\"')"
)
#: Ends every search text, so that a word at the very end still begins a trigram.
SENTINEL = " |"


def _contact_parts(contact):
    parts = [contact.name, contact.phone, contact.mobile, contact.email]
    for phone in (contact.phone, contact.mobile):
        digits = _NON_DIGITS.sub("", phone or "")
        if digits and digits != phone:  # "010-6529 5000" is also found as 01065295000
            parts.append(digits)
    return parts


def build_search_text(customer, contacts=None):
    """The text the index covers: code, name, short name, tax id, region, contact names and phones.

    ``contacts`` defaults to the customer's active contacts (read from the database when the
    customer is saved); pass them explicitly when they are not saved yet or already loaded.
    The result is lowercase and single-line; values are separated by " | " so that a term
    never matches across two fields by accident of concatenation.
    """
    if contacts is None:
        contacts = customer.contacts.filter(is_active=True) if customer.pk else ()
    parts = [customer.code, customer.name, customer.short_name, customer.tax_id, customer.region]
    for contact in contacts:
        parts.extend(_contact_parts(contact))
    cleaned = (" ".join(str(part).split()) for part in parts if part)
    return " | ".join(part for part in cleaned if part).lower() + SENTINEL


def refresh_search_text(customer):
    """Recompute and store ``customer.search_text`` (services call it after every change).

    A queryset ``update``: the text is derived data, so no audit entry, no version bump and
    no ``updated_at`` change. The SQLite FTS triggers see the UPDATE like any other.
    """
    from qcare.customers.models import Customer

    text = build_search_text(customer)
    Customer.objects.filter(pk=customer.pk).update(search_text=text)
    customer.search_text = text
    loaded = getattr(customer, "_loaded_values", None)
    if isinstance(loaded, dict) and "search_text" in loaded:
        loaded["search_text"] = text  # keep the change-detection snapshot consistent
    return text


def search_words(term):
    """The lowercase words of ``term`` (whitespace-separated; NUL characters dropped)."""
    return (term or "").replace("\x00", " ").lower().split()


def _fts_phrase(word):
    """``word`` as an FTS5 string literal: operators, ``*``, ``NEAR`` and quotes become plain text."""
    return '"' + word.replace('"', '""') + '"'


def search_customers(queryset, term):
    """``queryset`` narrowed to customers matching ``term`` (index-backed on both databases).

    An empty or blank term returns ``queryset`` unchanged. Works on ``restrict()``-ed
    querysets and keeps their ordering; the match is a plain filter on the same rows.
    """
    words = search_words(term)
    if not words:
        return queryset
    if connections[queryset.db].vendor == "sqlite":
        return _search_sqlite(queryset, words)
    for word in words:
        # PostgreSQL: case-sensitive LIKE on the lowercase text is what the pg_trgm GIN index
        # serves (icontains would not); Django escapes % and _ in the term.
        queryset = queryset.filter(search_text__contains=word)
    return queryset


def _search_sqlite(queryset, words):
    """FTS5 MATCH for ≥ 3 characters, the vocabulary OR for 2, ``instr()`` for 1 (decision 1051)."""
    long_words = [w for w in words if len(w) >= MIN_INDEXED_LENGTH]
    if long_words:
        expression = " AND ".join(_fts_phrase(w) for w in long_words)
        # A non-correlated subquery: SQLite evaluates it once into an ephemeral index.
        queryset = queryset.filter(pk__in=RawSQL(_FTS_MATCH, (expression,)))  # noqa: S611 (parameter)
    for index, word in enumerate(w for w in words if len(w) < MIN_INDEXED_LENGTH):
        if len(word) == 2:
            # Every occurrence of a 2-character word begins a trigram (the text ends with a
            # sentinel), so: the indexed trigrams starting with it, ORed, via the vocabulary.
            upper = word + "\U0010ffff"
            queryset = queryset.filter(pk__in=RawSQL(_FTS_PAIR_MATCH, (word, upper)))  # noqa: S611
        else:
            # One character: too many trigrams start with it; scan with instr(), a plain
            # substring test (no wildcards to escape, ~1.5× faster than LIKE).
            alias = f"_search_{index}"
            queryset = queryset.alias(**{alias: StrIndex("search_text", Value(word))})
            queryset = queryset.filter(**{f"{alias}__gt": 0})
    return queryset


# --- the index itself (installed by migration 0003; ``ensure_index`` repairs it) ------------

_SQLITE_TRIGGERS = (
    # External-content FTS5: the table stores only the index; the triggers feed it the rows.
    """CREATE TRIGGER IF NOT EXISTS customers_customer_fts_ai AFTER INSERT ON customers_customer BEGIN
        INSERT INTO customers_customer_fts(rowid, search_text) VALUES (new.id, new.search_text);
    END""",
    """CREATE TRIGGER IF NOT EXISTS customers_customer_fts_ad AFTER DELETE ON customers_customer BEGIN
        INSERT INTO customers_customer_fts(customers_customer_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
    END""",
    """CREATE TRIGGER IF NOT EXISTS customers_customer_fts_au AFTER UPDATE ON customers_customer BEGIN
        INSERT INTO customers_customer_fts(customers_customer_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
        INSERT INTO customers_customer_fts(rowid, search_text) VALUES (new.id, new.search_text);
    END""",
)
_SQLITE_TABLE = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS customers_customer_fts USING fts5("
    "search_text, content='customers_customer', content_rowid='id', tokenize='trigram')"
)
#: The index's vocabulary (its distinct trigrams), searched by range for 2-character words.
_SQLITE_VOCAB = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS customers_customer_fts_vocab "
    "USING fts5vocab('customers_customer_fts', 'row')"
)
_PG_INDEX = "customers_customer_search_trgm"


def install_index(conn):
    """Create the search index on ``conn`` (idempotent): FTS5 + triggers, or pg_trgm GIN."""
    with conn.cursor() as cursor:
        if conn.vendor == "sqlite":
            cursor.execute(_SQLITE_TABLE)
            cursor.execute(_SQLITE_VOCAB)
            for statement in _SQLITE_TRIGGERS:
                cursor.execute(statement)
            cursor.execute("INSERT INTO customers_customer_fts(customers_customer_fts) VALUES ('rebuild')")
        elif conn.vendor == "postgresql":
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS {_PG_INDEX} ON customers_customer "
                "USING gin (search_text gin_trgm_ops)"
            )


def uninstall_index(conn):
    """Drop the search index (reverse of :func:`install_index`; pg_trgm stays, others may use it)."""
    with conn.cursor() as cursor:
        if conn.vendor == "sqlite":
            for suffix in ("ai", "ad", "au"):
                cursor.execute("DROP TRIGGER IF EXISTS customers_customer_fts_" + suffix)
            cursor.execute("DROP TABLE IF EXISTS customers_customer_fts_vocab")
            cursor.execute("DROP TABLE IF EXISTS customers_customer_fts")
        elif conn.vendor == "postgresql":
            cursor.execute(f"DROP INDEX IF EXISTS {_PG_INDEX}")


def index_is_intact(conn):
    """False when the SQLite triggers are missing (Django rebuilds a table on most ALTERs on
    SQLite and the triggers go with the old table — decision 1050)."""
    if conn.vendor != "sqlite":
        return True
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE %s",
            ("customers_customer_fts_a_",),
        )
        return cursor.fetchone()[0] == len(_SQLITE_TRIGGERS)


def ensure_index(using="default", **kwargs):
    """Re-install the index when it is not intact (usable as a ``post_migrate`` receiver)."""
    conn = connections[using]
    if not index_is_intact(conn) and _customer_table_exists(conn):
        install_index(conn)


def purge_index(using="default"):
    """Physically remove replaced text from the SQLite index (call after an anonymisation).

    FTS5 records a change as a delete marker in a new segment; the old segment keeps the old
    trigrams (phone numbers, names) until segments merge. ``optimize`` merges them all now
    (~0.4 s at 20,000 customers). PostgreSQL: the old row version and its GIN entries stay
    until VACUUM (autovacuum) — as for every updated row, not specific to the search.
    """
    conn = connections[using]
    if conn.vendor == "sqlite":
        with conn.cursor() as cursor:
            cursor.execute("INSERT INTO customers_customer_fts(customers_customer_fts) VALUES ('optimize')")


def _customer_table_exists(conn):
    return "customers_customer" in conn.introspection.table_names()
