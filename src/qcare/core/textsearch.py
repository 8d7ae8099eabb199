"""Index-backed substring search over one lowercase text column, Chinese and Latin.

Shared by the customer search (decisions 1050/1051) and the complaint search. A model keeps a
derived lowercase ``search_text`` column (values joined by ``" | "``, ending with
:data:`SENTINEL`); a :class:`TextIndex` names that table/column and provides the index and the
search filter:

* SQLite: an external-content FTS5 table ``<table>_fts`` with the ``trigram`` tokenizer, kept in
  sync by three triggers (``<table>_fts_ai``/``_ad``/``_au``), and its vocabulary
  ``<table>_fts_vocab`` (``fts5vocab``). Words of three or more characters are answered by
  ``MATCH``. Two-character words (Chinese names such as 协和 are common) are shorter than a
  trigram: they match the OR of the indexed trigrams that *start* with them, found by a range
  lookup in the vocabulary (the text ends with a sentinel, so every occurrence starts a
  trigram). One-character words scan with ``instr()``.
* PostgreSQL: a ``pg_trgm`` GIN index ``<table>_search_trgm``; case-sensitive ``LIKE``
  (Django's ``contains``) uses it, ``icontains`` (``UPPER(…) LIKE UPPER(…)``) would not — hence
  the lowercase text and lowercase terms.

Several words are ANDed. The term is data, never syntax: FTS5 strings are quoted, ``%``/``_``
are escaped by Django's ``contains`` lookup, ``instr`` has no wildcards.
"""

import re

from django.db import connections
from django.db.models import Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import StrIndex

#: Trigram tokenizers need at least this many characters to use the index.
MIN_INDEXED_LENGTH = 3
#: Ends every search text, so that a word at the very end still begins a trigram.
SENTINEL = " |"
#: Separates the values of a search text, so a term never matches across two fields.
SEPARATOR = " | "
#: Table and column names are written into SQL: plain lowercase identifiers only.
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


def join_parts(parts):
    """The search text of ``parts``: blanks dropped, whitespace collapsed, lowercase, sentinel-ended."""
    cleaned = (" ".join(str(part).split()) for part in parts if part not in (None, ""))
    return SEPARATOR.join(part for part in cleaned if part).lower() + SENTINEL


def search_words(term):
    """The lowercase words of ``term`` (whitespace-separated; NUL characters dropped)."""
    return (term or "").replace("\x00", " ").lower().split()


def fts_phrase(word):
    """``word`` as an FTS5 string literal: operators, ``*``, ``NEAR`` and quotes become plain text."""
    return '"' + word.replace('"', '""') + '"'


class TextIndex:
    """The search index of ``table.column`` (row id column ``pk``); names derive from the table."""

    def __init__(self, table, column="search_text", pk="id"):
        for name in (table, column, pk):
            if not _IDENTIFIER.match(name):
                raise ValueError(f"not a plain SQL identifier: {name!r}")
        self.table, self.column, self.pk = table, column, pk
        self.fts = f"{table}_fts"
        self.vocab = f"{table}_fts_vocab"
        self.pg_index = f"{table}_search_trgm"
        self.triggers = tuple(f"{self.fts}_{suffix}" for suffix in ("ai", "ad", "au"))
        self._match_sql = f"SELECT rowid FROM {self.fts} WHERE {self.fts} MATCH %s"  # noqa: S608
        # A 2-character word: MATCH the OR of the indexed trigrams that start with it ('""' if none).
        self._pair_match_sql = (
            f"SELECT rowid FROM {self.fts} WHERE {self.fts} MATCH coalesce(("  # noqa: S608
            "SELECT group_concat('\"' || replace(term, '\"', '\"\"') || '\"', ' OR ') "
            f"FROM {self.vocab} WHERE term >= %s AND term < %s), '\"\"')"
        )

    # --- searching ------------------------------------------------------------------------
    def search(self, queryset, term):
        """``queryset`` narrowed to rows whose text contains every word of ``term``.

        A blank term returns ``queryset`` unchanged. The match is one more filter on the same
        rows, so ``restrict()`` scopes, other filters, ordering and slicing apply as before.
        """
        words = search_words(term)
        if not words:
            return queryset
        if connections[queryset.db].vendor == "sqlite":
            return self._search_sqlite(queryset, words)
        for word in words:
            # PostgreSQL: case-sensitive LIKE on the lowercase text is what the pg_trgm GIN
            # index serves (icontains would not); Django escapes % and _ in the term.
            queryset = queryset.filter(**{f"{self.column}__contains": word})
        return queryset

    def _search_sqlite(self, queryset, words):
        """FTS5 MATCH for ≥ 3 characters, the vocabulary OR for 2, ``instr()`` for 1 (decision 1051)."""
        long_words = [w for w in words if len(w) >= MIN_INDEXED_LENGTH]
        if long_words:
            expression = " AND ".join(fts_phrase(w) for w in long_words)
            # A non-correlated subquery: SQLite evaluates it once into an ephemeral index.
            queryset = queryset.filter(pk__in=RawSQL(self._match_sql, (expression,)))  # noqa: S611
        for index, word in enumerate(w for w in words if len(w) < MIN_INDEXED_LENGTH):
            if len(word) == 2:
                # Every occurrence of a 2-character word begins a trigram (the text ends with a
                # sentinel), so: the indexed trigrams starting with it, ORed, via the vocabulary.
                upper = word + "\U0010ffff"
                queryset = queryset.filter(pk__in=RawSQL(self._pair_match_sql, (word, upper)))  # noqa: S611
            else:
                # One character: too many trigrams start with it; scan with instr(), a plain
                # substring test (no wildcards to escape, ~1.5× faster than LIKE).
                alias = f"_search_{index}"
                queryset = queryset.alias(**{alias: StrIndex(self.column, Value(word))})
                queryset = queryset.filter(**{f"{alias}__gt": 0})
        return queryset

    # --- the index itself (installed by a migration; ``ensure`` repairs it) ----------------
    def _sqlite_statements(self):
        t, c, fts, pk = self.table, self.column, self.fts, self.pk
        ai, ad, au = self.triggers
        return (
            # External-content FTS5: the table stores only the index; the triggers feed it rows.
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5("
            f"{c}, content='{t}', content_rowid='{pk}', tokenize='trigram')",
            # The index's vocabulary (its distinct trigrams), searched by range for 2-character words.
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {self.vocab} USING fts5vocab('{fts}', 'row')",
            f"""CREATE TRIGGER IF NOT EXISTS {ai} AFTER INSERT ON {t} BEGIN
                INSERT INTO {fts}(rowid, {c}) VALUES (new.{pk}, new.{c});
            END""",  # noqa: S608
            f"""CREATE TRIGGER IF NOT EXISTS {ad} AFTER DELETE ON {t} BEGIN
                INSERT INTO {fts}({fts}, rowid, {c}) VALUES ('delete', old.{pk}, old.{c});
            END""",  # noqa: S608
            # Only when the text changes: other column updates (status, deadlines) cost nothing.
            f"""CREATE TRIGGER IF NOT EXISTS {au} AFTER UPDATE OF {c} ON {t} BEGIN
                INSERT INTO {fts}({fts}, rowid, {c}) VALUES ('delete', old.{pk}, old.{c});
                INSERT INTO {fts}(rowid, {c}) VALUES (new.{pk}, new.{c});
            END""",  # noqa: S608
        )

    def install(self, conn, *, rebuild=True):
        """Create the index on ``conn`` (idempotent): FTS5 + triggers, or pg_trgm GIN.

        ``rebuild`` re-reads every row into the FTS5 index (needed when rows exist already).
        """
        with conn.cursor() as cursor:
            if conn.vendor == "sqlite":
                for statement in self._sqlite_statements():
                    cursor.execute(statement)
                if rebuild:
                    self.rebuild(conn)
            elif conn.vendor == "postgresql":
                cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                cursor.execute(
                    f"CREATE INDEX IF NOT EXISTS {self.pg_index} ON {self.table} "
                    f"USING gin ({self.column} gin_trgm_ops)"
                )

    def rebuild(self, conn):
        """SQLite: rebuild the FTS5 index from the content table (after bulk loads without triggers)."""
        if conn.vendor == "sqlite":
            with conn.cursor() as cursor:
                cursor.execute(f"INSERT INTO {self.fts}({self.fts}) VALUES ('rebuild')")  # noqa: S608

    def uninstall(self, conn, *, triggers_only=False):
        """Drop the index (reverse of :meth:`install`; pg_trgm stays, others may use it).

        ``triggers_only`` (SQLite) keeps the FTS tables: bulk loaders drop the triggers, insert,
        then :meth:`install` again, which rebuilds the index once instead of per row.
        """
        with conn.cursor() as cursor:
            if conn.vendor == "sqlite":
                for trigger in self.triggers:
                    cursor.execute(f"DROP TRIGGER IF EXISTS {trigger}")
                if not triggers_only:
                    cursor.execute(f"DROP TABLE IF EXISTS {self.vocab}")
                    cursor.execute(f"DROP TABLE IF EXISTS {self.fts}")
            elif conn.vendor == "postgresql" and not triggers_only:
                cursor.execute(f"DROP INDEX IF EXISTS {self.pg_index}")

    def is_intact(self, conn):
        """False when a SQLite trigger is missing (Django rebuilds a SQLite table on most ALTERs
        and the triggers go with the old table — decision 1050)."""
        if conn.vendor != "sqlite":
            return True
        with conn.cursor() as cursor:
            names = ", ".join(["%s"] * len(self.triggers))
            cursor.execute(
                f"SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name IN ({names})",  # noqa: S608
                self.triggers,
            )
            return cursor.fetchone()[0] == len(self.triggers)

    def ensure(self, using="default", **kwargs):
        """Re-install the index when it is not intact (usable as a ``post_migrate`` receiver)."""
        conn = connections[using]
        if not self.is_intact(conn) and self.table in conn.introspection.table_names():
            self.install(conn)

    def purge(self, using="default"):
        """Physically remove replaced text from the SQLite index (after an anonymisation).

        FTS5 records a change as a delete marker in a new segment; the old segment keeps the old
        trigrams until segments merge. ``optimize`` merges them all now. PostgreSQL: the old row
        version and its GIN entries stay until VACUUM, as for every updated row.
        """
        conn = connections[using]
        if conn.vendor == "sqlite":
            with conn.cursor() as cursor:
                cursor.execute(f"INSERT INTO {self.fts}({self.fts}) VALUES ('optimize')")  # noqa: S608
