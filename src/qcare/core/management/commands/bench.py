"""``qcare bench <name|all> [--size N] …``: run the benchmarks of ``benchmarks/``.

This process has already set Django up with the production settings and database, which a
benchmark must never touch. So the command runs ``python -m benchmarks`` in a fresh process
(from the source checkout, where the ``benchmarks`` package lives) that enables the sample
app and uses its own data directory and database before Django starts.
"""

import os
import subprocess
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

import qcare

REPO_ROOT = Path(qcare.__file__).resolve().parents[2]


class Command(BaseCommand):
    help = (
        "Run benchmarks (service_create, audit_verify, outbox_drain, list_endpoint, customers, "
        "customers_import, orders or all) on a separate database."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "name",
            help="service_create | audit_verify | outbox_drain | list_endpoint | customers | customers_import | orders | all",
        )
        parser.add_argument(
            "rest", nargs="*", help="options passed on, e.g. --size 1000 (use -- before them)"
        )

    def run_from_argv(self, argv):
        # Everything after the name goes to the runner unparsed (--size, --data-dir, …).
        self.execute_runner(argv[2:])

    def handle(self, *args, name, rest, **options):
        self.execute_runner([name, *rest])

    def execute_runner(self, arguments):
        if not (REPO_ROOT / "benchmarks" / "runner.py").is_file():
            raise CommandError(
                _("The benchmarks need a source checkout of QCare (benchmarks/ was not found).")
            )
        env = {
            k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "QCARE_DATABASE_URL"}
        }
        env.pop("QCARE_DATA_DIR", None)  # the runner picks its own, never the production one
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        result = subprocess.run([sys.executable, "-m", "benchmarks", *arguments], cwd=REPO_ROOT, env=env)
        if result.returncode:
            raise CommandError(_("The benchmark failed (exit code %(code)d).") % {"code": result.returncode})
