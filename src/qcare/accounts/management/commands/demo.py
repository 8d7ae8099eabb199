"""``qcare demo``: create the demo company (idempotent) and print the logins."""

import os
import unicodedata

from django.core.management.base import BaseCommand

from qcare.accounts.demo import create_demo_company


def _width(text):
    """Terminal columns of ``text`` (CJK characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text, width):
    return text + " " * (width - _width(text))


class Command(BaseCommand):
    help = "Create demo departments, roles and users (idempotent); prints username → role → department."

    def handle(self, *args, **options):
        result = create_demo_company()
        header = ("username", "role", "department", "name")
        rows = [
            (u, roles, dept, name + (" *" if created else ""))
            for u, name, roles, dept, created in result.rows
        ]
        widths = [max(_width(r[i]) for r in [header, *rows]) for i in range(4)]
        for row in [header, *rows]:
            self.stdout.write("  ".join(_pad(cell, widths[i]) for i, cell in enumerate(row)).rstrip())
            if row is header:
                self.stdout.write("  ".join("-" * w for w in widths))
        self._report_password(result)

    def _report_password(self, result):
        created = sum(1 for r in result.rows if r[4])
        if created == 0:
            self.stdout.write("Nothing to create: every demo user already exists (passwords unchanged).")
        elif os.environ.get("QCARE_DEMO_PASSWORD"):
            self.stdout.write(f"{created} users created (*) with the password from QCARE_DEMO_PASSWORD.")
        else:
            self.stdout.write(f"{created} users created (*). Password for all of them (shown only now):")
            self.stdout.write(self.style.WARNING(result.password))
