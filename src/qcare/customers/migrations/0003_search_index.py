"""The customer search index (decision 1050): SQLite FTS5 trigram table + sync triggers,
or a pg_trgm GIN index on PostgreSQL. Vendor-specific, so RunPython rather than RunSQL."""

from django.db import migrations


def forwards(apps, schema_editor):
    from qcare.customers.search import install_index

    install_index(schema_editor.connection)


def backwards(apps, schema_editor):
    from qcare.customers.search import uninstall_index

    uninstall_index(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("customers", "0002_seed_classifications")]
    operations = [migrations.RunPython(forwards, backwards)]
