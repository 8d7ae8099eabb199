from django.db import migrations


def forwards(apps, schema_editor):
    from qcare.customers.seed import seed_classifications

    seed_classifications(apps.get_model("customers", "Classification"))


class Migration(migrations.Migration):
    dependencies = [("customers", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
