"""Enumerations of the customer file with translated labels (Chinese terms from the seeds)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class ClassificationKind(models.TextChoices):
    """The configurable classification lists of R-CU-1."""

    TYPE = "type", _("Customer type")
    RELATIONSHIP = "relationship", _("Relationship class")
    VALUE = "value", _("Value class")


class Language(models.TextChoices):
    ZH_HANS = "zh-hans", "简体中文"
    EN = "en", "English"


class Channel(models.TextChoices):
    """Preferred channel for official communication (R-CU-2)."""

    EMAIL = "email", _("E-mail")
    PHONE = "phone", _("Phone")
    FAX = "fax", _("Fax")
    LETTER = "letter", _("Letter")
    PORTAL = "portal", _("Customer portal")


class LicenceKind(models.TextChoices):
    """Qualification documents of R-CU-3."""

    DEVICE_BUSINESS = "device_business", _("Medical device business licence")
    CLASS2_FILING = "class2_filing", _("Class II medical device business filing")
    OTHER = "other", _("Other qualification")


#: Licence kinds that allow trading regulated devices (check_can_sell looks only at these).
TRADING_LICENCE_KINDS = (LicenceKind.DEVICE_BUSINESS, LicenceKind.CLASS2_FILING)


class LicenceStatus(models.TextChoices):
    """Computed status of a licence on a date (badges, filters)."""

    VALID = "valid", _("Valid")
    EXPIRING = "expiring", _("Expiring soon")
    EXPIRED = "expired", _("Expired")
    NOT_YET_VALID = "not_yet_valid", _("Not yet valid")
    MISSING = "missing", _("No licence")


class CommunicationKind(models.TextChoices):
    """Entries of the communication log 沟通记录 (R-CU-4)."""

    INQUIRY = "inquiry", _("Inquiry")
    CALL = "call", _("Phone call")
    LETTER = "letter", _("Letter")
    FAX = "fax", _("Fax")
    EMAIL = "email", _("E-mail")
    PLANT_VISIT = "plant_visit", _("Customer visit to the plant")
    SALES_VISIT = "sales_visit", _("Sales visit to the customer")
    OTHER = "other", _("Other")


class Direction(models.TextChoices):
    INCOMING = "in", _("From the customer")
    OUTGOING = "out", _("To the customer")


class ActionStatus(models.TextChoices):
    OPEN = "open", _("Open")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


class PropertyKind(models.TextChoices):
    """Customer property 顾客财产 (R-CU-5), incl. intellectual property and personal data."""

    TOOLING = "tooling", _("Tooling / moulds")
    SAMPLE = "sample", _("Samples")
    MATERIAL = "material", _("Materials / parts supplied by the customer")
    DRAWING = "drawing", _("Drawings / intellectual property")
    PERSONAL_DATA = "personal_data", _("Personal data set")
    OTHER = "other", _("Other")


class PropertyStatus(models.TextChoices):
    IN_CUSTODY = "in_custody", _("In our custody")
    RETURNED = "returned", _("Returned to the customer")
    LOST = "lost", _("Lost")
    DAMAGED = "damaged", _("Damaged")
    UNSUITABLE = "unsuitable", _("Found unsuitable for use")


class IncidentKind(models.TextChoices):
    LOSS = "loss", _("Loss")
    DAMAGE = "damage", _("Damage")
    UNSUITABLE = "unsuitable", _("Unsuitable for use")
