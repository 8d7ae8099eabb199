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

The index and the search live in :mod:`qcare.core.textsearch` (shared with the complaint
search); this module keeps the customer-specific text and the public functions.
"""

import re

from qcare.core.textsearch import MIN_INDEXED_LENGTH, SENTINEL, TextIndex, join_parts, search_words

__all__ = [
    "FTS_TABLE",
    "INDEX",
    "MIN_INDEXED_LENGTH",
    "SENTINEL",
    "build_search_text",
    "ensure_index",
    "index_is_intact",
    "install_index",
    "purge_index",
    "refresh_search_text",
    "search_customers",
    "search_words",
    "uninstall_index",
]

#: The customer search index: customers_customer_fts (+ _vocab, triggers) / customers_customer_search_trgm.
INDEX = TextIndex("customers_customer")
FTS_TABLE = INDEX.fts
_NON_DIGITS = re.compile(r"\D+")


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
    return join_parts(parts)


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


def search_customers(queryset, term):
    """``queryset`` narrowed to customers matching ``term`` (index-backed on both databases).

    An empty or blank term returns ``queryset`` unchanged. Works on ``restrict()``-ed
    querysets and keeps their ordering; the match is a plain filter on the same rows.
    """
    return INDEX.search(queryset, term)


# --- the index itself (installed by migration 0003; ``ensure_index`` repairs it) ------------


def install_index(conn):
    """Create the search index on ``conn`` (idempotent): FTS5 + triggers, or pg_trgm GIN."""
    INDEX.install(conn)


def uninstall_index(conn):
    """Drop the search index (reverse of :func:`install_index`; pg_trgm stays, others may use it)."""
    INDEX.uninstall(conn)


def index_is_intact(conn):
    """False when the SQLite triggers are missing (Django rebuilds a table on most ALTERs on
    SQLite and the triggers go with the old table — decision 1050)."""
    return INDEX.is_intact(conn)


def ensure_index(using="default", **kwargs):
    """Re-install the index when it is not intact (usable as a ``post_migrate`` receiver)."""
    INDEX.ensure(using)


def purge_index(using="default"):
    """Physically remove replaced text from the SQLite index (call after an anonymisation).

    FTS5 records a change as a delete marker in a new segment; the old segment keeps the old
    trigrams (phone numbers, names) until segments merge. ``optimize`` merges them all now
    (~0.4 s at 20,000 customers). PostgreSQL: the old row version and its GIN entries stay
    until VACUUM (autovacuum) — as for every updated row, not specific to the search.
    """
    INDEX.purge(using)
