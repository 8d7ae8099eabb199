"""Complaint search (Chinese and Latin), index-backed on both databases (R-CO-2, R-CO-11 lists).

Every complaint carries ``search_text``: one lowercase line of its number, the customer (code,
name, short name), the product (code, name, model), lot, serial, part number, order / contract
reference, contact (name, phone, phone as bare digits) and the description. The workflow
services call :func:`refresh_search_text` after registering or correcting a complaint.

The index is the shared :class:`qcare.core.textsearch.TextIndex` on ``complaints_complaint``
(decisions 1050/1051): SQLite FTS5 trigram table ``complaints_complaint_fts`` + triggers (the
update trigger fires only when ``search_text`` changes, so status and deadline updates cost
nothing), PostgreSQL ``complaints_complaint_search_trgm`` (pg_trgm GIN). Migration 0002
installs it; :func:`ensure_index` repairs it after SQLite table rebuilds.
"""

import re

from qcare.core.textsearch import TextIndex, join_parts

#: The complaint search index.
INDEX = TextIndex("complaints_complaint")
_NON_DIGITS = re.compile(r"\D+")


def build_search_text(complaint):
    """The text the index covers (lowercase, fields joined by " | ", ending with the sentinel).

    Reads the customer, product and order of ``complaint`` (select them with the complaint to
    avoid extra queries); works on unsaved complaints (bulk loaders, the demo).
    """
    customer = complaint.customer
    product = complaint.product if complaint.product_id else None
    order = complaint.order if complaint.order_id else None
    phone = complaint.contact_phone or ""
    digits = _NON_DIGITS.sub("", phone)
    parts = [
        complaint.number,
        " ".join(filter(None, [customer.code, customer.name, customer.short_name])),
        " ".join(filter(None, [product.code, product.name, product.model])) if product else "",
        complaint.lot_number,
        complaint.serial_number,
        complaint.part_number,
        order.number if order else "",
        complaint.order_reference if not order or complaint.order_reference != order.number else "",
        " ".join(filter(None, [complaint.contact_name, phone, digits if digits != phone else ""])),
        complaint.description,
    ]
    return join_parts(parts)


def refresh_search_text(complaint):
    """Recompute and store ``complaint.search_text`` (services call it after every change).

    A queryset ``update``: derived data, so no audit entry, no version bump, no ``updated_at``
    change. The SQLite FTS trigger sees the UPDATE of the column like any other.
    """
    from qcare.complaints.models import Complaint

    text = build_search_text(complaint)
    Complaint.objects.filter(pk=complaint.pk).update(search_text=text)
    complaint.search_text = text
    loaded = getattr(complaint, "_loaded_values", None)
    if isinstance(loaded, dict) and "search_text" in loaded:
        loaded["search_text"] = text  # keep the change-detection snapshot consistent
    return text


def search_complaints(queryset, term):
    """``queryset`` narrowed to complaints matching every word of ``term`` (index-backed).

    A blank term returns ``queryset`` unchanged; scopes (``restrict()``), filters, ordering
    and slicing of ``queryset`` apply as before.
    """
    return INDEX.search(queryset, term)


def install_index(conn):
    """Create the complaint search index on ``conn`` (migration 0002; idempotent)."""
    INDEX.install(conn)


def uninstall_index(conn):
    """Drop the complaint search index (reverse of migration 0002)."""
    INDEX.uninstall(conn)


def index_is_intact(conn):
    """False when the SQLite triggers were lost with a table rebuild."""
    return INDEX.is_intact(conn)


def ensure_index(using="default", **kwargs):
    """Re-install the index when it is not intact (a ``post_migrate`` receiver, as for customers)."""
    INDEX.ensure(using)
