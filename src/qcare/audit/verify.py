"""Walk the audit chain and report the first entry that was changed, removed or inserted.

The walk reads raw rows in ``seq`` order with keyset pagination (constant memory, one index
range scan per batch) and recomputes every hash; 1M entries take seconds, not minutes.
"""

import json
from dataclasses import dataclass, field

from django.db import connection
from django.utils.translation import gettext as _

from qcare.audit.chain import HEAD_PK, canonical_payload, canonical_time, compute_hash

COLUMNS = (
    "id",
    "seq",
    "at",
    "actor_id",
    "actor_name",
    "request_id",
    "content_type_id",
    "object_pk",
    "object_repr",
    "action",
    "changes",
    "reason",
    "data",
    "prev_hash",
    "hash",
)


@dataclass
class Problem:
    """The first broken place of the chain."""

    kind: str  # "changed" | "removed" | "inserted"
    message: str
    seq: int | None = None
    entry_id: int | None = None
    at: str = ""
    obj: str = ""


@dataclass
class VerifyResult:
    """Outcome of a walk: ``ok``, how many entries were checked, and the problem if any."""

    checked: int = 0
    problem: Problem | None = None
    head_seq: int = 0
    head_hash: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def ok(self):
        return self.problem is None


def _json(value):
    if value is None or value == "" or value == "{}":  # most events and all creates' data
        return {}
    return json.loads(value) if isinstance(value, str | bytes) else value


class _Walker:
    """Holds the state of one verification walk."""

    def __init__(self, from_seq, batch_size):
        from django.contrib.contenttypes.models import ContentType

        from qcare.audit.models import AuditEntry

        self.batch_size = batch_size
        self.from_seq = max(1, int(from_seq))
        self.labels = {
            pk: f"{a}.{m}" for pk, a, m in ContentType.objects.values_list("pk", "app_label", "model")
        }
        qn = connection.ops.quote_name
        at_col = "CAST(at AS TEXT)" if connection.vendor == "sqlite" else "at"
        cols = ", ".join(at_col if c == "at" else qn(c) for c in COLUMNS)
        table = qn(AuditEntry._meta.db_table)
        self.page_sql = (
            f"SELECT {cols} FROM {table} WHERE (seq > %s OR (seq = %s AND id > %s)) "  # noqa: S608
            f"ORDER BY seq, id LIMIT {int(batch_size)}"
        )
        self.one_sql = f"SELECT {cols} FROM {table} WHERE seq = %s ORDER BY id LIMIT 1"  # noqa: S608
        self.head_sql = f"SELECT last_seq, last_hash FROM {qn('audit_chainhead')} WHERE id = %s"  # noqa: S608
        self.result = VerifyResult()
        self.prev_row = None
        self.prev_hash = ""
        self.prev2_hash = None
        self.expected = self.from_seq

    def describe(self, row):
        model = self.labels.get(row[6], "")
        obj = f"{model} #{row[7]} {row[8]}".strip() if model else (row[8] or "")
        return {"seq": row[1], "entry_id": row[0], "at": canonical_time(row[2]), "obj": obj}

    def problem(self, kind, template, row=None, **params):
        """Record the problem; ``template`` is formatted with ``params`` and the row's ``seq``."""
        info = self.describe(row) if row is not None else {}
        message = template % {"seq": info.get("seq"), **params}
        self.result.problem = Problem(kind=kind, message=message, **info)
        return kind

    def start(self, cursor):
        """Position after the entry before ``from_seq`` (its hash is the first link)."""
        if self.from_seq == 1:
            return True
        cursor.execute(self.one_sql, [self.from_seq - 1])
        row = cursor.fetchone()
        if row is None:
            self.problem("removed", _("Entry %(missing)s is missing."), missing=self.from_seq - 1)
            return False
        self.prev_row, self.prev_hash = row, row[14]
        return True

    def check(self, row):
        """None if ``row`` is a valid next link, else the problem found."""
        seq = row[1]
        payload = canonical_payload(
            seq=seq,
            at=row[2],
            actor_id=row[3],
            actor_name=row[4],
            request_id=row[5],
            model=self.labels.get(row[6], "") if row[6] is not None else "",
            object_pk=row[7],
            object_repr=row[8],
            action=row[9],
            changes=_json(row[10]),
            reason=row[11],
            data=_json(row[12]),
        )
        if compute_hash(row[13] or "", payload) != row[14]:
            return self.problem(
                "changed", _("Entry %(seq)s was changed: its hash does not match its content."), row
            )
        if self.prev_row is not None and seq == self.prev_row[1]:
            return self.problem(
                "inserted", _("Entry %(seq)s was inserted: its sequence number is duplicated."), row
            )
        if seq != self.expected:
            return self.problem(
                "removed",
                _("Entries %(first)s to %(last)s are missing (removed) before entry %(seq)s."),
                row,
                first=self.expected,
                last=seq - 1,
            )
        if (row[13] or "") != self.prev_hash:
            if self.prev2_hash is not None and row[13] == self.prev2_hash:
                return self.problem(
                    "inserted",
                    _("Entry %(seq)s was inserted: the next entry does not link to it."),
                    self.prev_row,
                )
            if self.prev_row is not None:
                return self.problem(
                    "changed",
                    _("Entry %(seq)s was replaced: the next entry does not link to it."),
                    self.prev_row,
                )
            return self.problem("changed", _("Entry %(seq)s does not link to the entry before it."), row)
        self.prev2_hash, self.prev_hash, self.prev_row = self.prev_hash, row[14], row
        self.expected = seq + 1
        self.result.checked += 1
        return None

    def walk(self, cursor):
        """Check pages until the end; False when a problem was found."""
        while True:
            last = self.prev_row
            key = (
                (last[1], last[1], last[0]) if last is not None else (self.from_seq - 1, self.from_seq - 1, 0)
            )
            cursor.execute(self.page_sql, list(key))
            rows = cursor.fetchall()
            for row in rows:
                if self.check(row) is not None:
                    return False
            if len(rows) < self.batch_size:
                return True

    def compare_head(self, cursor):
        """Compare the last entry with the chain head (catches a removed or added tail)."""
        cursor.execute(self.head_sql, [HEAD_PK])
        head = cursor.fetchone()
        last_seq = self.prev_row[1] if self.prev_row is not None else self.from_seq - 1
        if head is None:
            if last_seq == 0:
                return None  # an empty trail (e.g. a freshly flushed database)
            return self.problem("removed", _("The chain head is missing."), self.prev_row)
        self.result.head_seq, self.result.head_hash = head
        if head[0] > last_seq:
            return self.problem(
                "removed",
                _("Entries %(first)s to %(last)s are missing (removed) at the end of the trail."),
                self.prev_row,
                first=last_seq + 1,
                last=head[0],
            )
        if last_seq > head[0]:
            cursor.execute(self.one_sql, [head[0] + 1])
            return self.problem(
                "inserted", _("Entry %(seq)s was inserted after the end of the trail."), cursor.fetchone()
            )
        if self.prev_row is not None and head[1] != self.prev_row[14]:
            return self.problem(
                "changed", _("Entry %(seq)s was replaced: it does not match the chain head."), self.prev_row
            )
        return None


def verify_chain(*, from_seq=1, batch_size=20000):
    """Verify the trail from ``from_seq`` to the end; returns a :class:`VerifyResult`."""
    walker = _Walker(from_seq, batch_size)
    with connection.cursor() as cursor:
        if not walker.start(cursor) or not walker.walk(cursor):
            return walker.result
        # Writers may append while we walk: when the head is ahead of the last entry seen,
        # walk on; only a head ahead of entries that do not exist means removed entries.
        for _attempt in range(1000):
            if walker.compare_head(cursor) != "removed":
                break
            before = walker.prev_row
            walker.result.problem = None
            if not walker.walk(cursor):
                break
            if walker.prev_row is before:
                walker.compare_head(cursor)
                break
    return walker.result
