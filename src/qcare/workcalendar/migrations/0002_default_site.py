"""The default site HQ 总部 (Asia/Shanghai, CN, Mon–Fri 08:30–12:00 / 13:00–17:30). Idempotent."""

from django.db import migrations

STANDARD_DAY = [["08:30", "12:00"], ["13:00", "17:30"]]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def create_default_site(apps, schema_editor):
    Site = apps.get_model("workcalendar", "Site")
    has_default = Site.objects.filter(is_default=True).exists()
    Site.objects.get_or_create(
        code="HQ",
        defaults={
            "name": "总部",
            "time_zone": "Asia/Shanghai",
            "country": "CN",
            "working_periods": {d: (STANDARD_DAY if i < 5 else []) for i, d in enumerate(WEEKDAYS)},
            "is_default": not has_default,
        },
    )


class Migration(migrations.Migration):
    dependencies = [("workcalendar", "0001_initial")]

    operations = [migrations.RunPython(create_default_site, migrations.RunPython.noop)]
