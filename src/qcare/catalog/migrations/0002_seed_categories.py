from django.db import migrations


def forwards(apps, schema_editor):
    from qcare.catalog.seed import seed_categories

    seed_categories(apps.get_model("catalog", "ProductCategory"))


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
