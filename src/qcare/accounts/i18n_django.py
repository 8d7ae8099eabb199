"""Messages of Django's password validators that Django's own zh-Hans catalog lacks.

Django 5.2's MinimumLengthValidator formats its message with ``%d``, while Django's Chinese
catalog still has the older ``%(min_length)d`` msgid, so Chinese users saw English. Listing
the msgids here puts them into this app's catalog (app catalogs take precedence over
Django's). Remove when Django's catalog catches up.
"""

from django.utils.translation import ngettext_lazy

PASSWORD_TOO_SHORT = ngettext_lazy(
    "This password is too short. It must contain at least %d character.",
    "This password is too short. It must contain at least %d characters.",
    "min_length",
)
