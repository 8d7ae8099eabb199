"""The complaint search index (decisions 1050/1051, shared qcare.core.textsearch): SQLite FTS5
trigram table + sync triggers, or a pg_trgm GIN index on PostgreSQL. Vendor-specific, so
RunPython rather than RunSQL."""

from django.db import migrations


def forwards(apps, schema_editor):
    from qcare.complaints.search import install_index

    install_index(schema_editor.connection)


def backwards(apps, schema_editor):
    from qcare.complaints.search import uninstall_index

    uninstall_index(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("complaints", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
