"""PostgreSQL: a trigger refuses UPDATE and DELETE of audit entries (append-only, P3).

TRUNCATE is left to the table owner on purpose (test database flushes use it); production
should run the application as a role that does not own the table (see docs/audit.md).
On SQLite the ORM guard is the protection (SQLite triggers would also block flush).
"""

from django.db import migrations

CREATE = [
    """
    CREATE OR REPLACE FUNCTION qcare_audit_append_only() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'audit trail is append-only: % on % refused', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END;
    $$ LANGUAGE plpgsql
    """,
    "DROP TRIGGER IF EXISTS audit_entry_append_only ON audit_auditentry",
    """
    CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON audit_auditentry
        FOR EACH ROW EXECUTE FUNCTION qcare_audit_append_only()
    """,
]

DROP = [
    "DROP TRIGGER IF EXISTS audit_entry_append_only ON audit_auditentry",
    "DROP FUNCTION IF EXISTS qcare_audit_append_only()",
]


def _run(schema_editor, statements):
    # No parameters: the "%" of RAISE must not be read as a placeholder.
    with schema_editor.connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        _run(schema_editor, CREATE)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        _run(schema_editor, DROP)


def create_head(apps, schema_editor):
    ChainHead = apps.get_model("audit", "ChainHead")
    ChainHead.objects.get_or_create(pk=1, defaults={"last_seq": 0, "last_hash": ""})


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [
        migrations.RunPython(create_trigger, drop_trigger),
        migrations.RunPython(create_head, migrations.RunPython.noop),
    ]
