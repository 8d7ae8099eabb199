"""The ``qcare`` console script: ``qcare <django command>`` behaves like ``manage.py``."""

import os
import sys


def main(argv=None):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qcare.settings")
    from django.core.management import execute_from_command_line

    argv = list(sys.argv if argv is None else argv)
    argv[0] = "qcare"
    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
