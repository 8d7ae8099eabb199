"""Customer file 顾客档案 (R-CU-1…7): customers, contacts, licences, communication log,
follow-up actions, customer property, portal links and anonymisation records.

Scope (P7): a customer belongs to its owner (sales person) and the owner's department;
child records (contacts, licences, log entries, property) follow their customer. A portal
user sees only the customer they are linked to (``CustomerPortalUser``).
"""

from django.conf import settings
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from qcare.core.models import QModel, Scope, VersionedModel
from qcare.customers.choices import (
    ActionStatus,
    Channel,
    ClassificationKind,
    CommunicationKind,
    Direction,
    IncidentKind,
    Language,
    LicenceKind,
    PropertyKind,
    PropertyStatus,
)


def _portal_customer_id(user):
    """The customer a portal user is linked to (cached on the user object), else None."""
    if not hasattr(user, "_qcare_portal_customer_id"):
        link = (
            CustomerPortalUser.objects.filter(user_id=user.pk).values_list("customer_id", flat=True).first()
        )
        user._qcare_portal_customer_id = link
    return user._qcare_portal_customer_id


class CustomerScoped:
    """Scope rule shared by the customer and its child records (``customer_path`` = "" or "customer__")."""

    customer_path = "customer__"

    @classmethod
    def scope_q(cls, user, scope):
        prefix = cls.customer_path
        portal_customer = _portal_customer_id(user)
        if portal_customer is not None:  # a portal user never sees another company's records
            return models.Q(**{f"{prefix}pk" if prefix else "pk": portal_customer})
        if scope == Scope.ALL:
            return None
        if scope == Scope.DEPARTMENT:
            if not user.department_id:
                return False
            return models.Q(**{f"{prefix}department": user.department_id})
        return models.Q(**{f"{prefix}owner": user.pk})


class Classification(VersionedModel):
    """An entry of a configurable list: customer types, relationship classes, value classes."""

    kind = models.CharField(_("list"), max_length=20, choices=ClassificationKind.choices)
    code = models.SlugField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100, blank=True)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=100)
    is_active = models.BooleanField(_("active"), default=True)
    requires_licence = models.BooleanField(
        _("needs a trading licence"),
        default=False,
        help_text=_(
            "For customer types: distributors and agents must hold a valid licence to buy regulated devices."
        ),
    )

    permission_module = "customers"

    class Meta:
        verbose_name = _("classification")
        verbose_name_plural = _("classifications")
        ordering = ["kind", "sort_order", "code"]
        constraints = [models.UniqueConstraint(fields=["kind", "code"], name="uniq_classification_kind_code")]

    def __str__(self):
        return self.name_en if get_language() == "en" and self.name_en else self.name

    @classmethod
    def scope_q(cls, user, scope):
        return None  # the lists are reference data: whoever may view customers may read them


class Customer(CustomerScoped, VersionedModel):
    """A customer (顾客): distributor, agent, hospital/end user, OEM client, trading company."""

    customer_path = ""

    code = models.CharField(_("customer code"), max_length=20, unique=True, editable=False)
    name = models.CharField(_("legal name"), max_length=200)
    short_name = models.CharField(_("short name"), max_length=100, blank=True)
    customer_type = models.ForeignKey(
        Classification,
        verbose_name=_("customer type"),
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"kind": ClassificationKind.TYPE},
    )
    is_foreign = models.BooleanField(
        _("foreign customer"),
        default=False,
        help_text=_("Foreign customers have longer complaint deadlines."),
    )
    country = models.CharField(_("country"), max_length=2, default="CN")
    region = models.CharField(
        _("region"), max_length=100, blank=True, help_text=_("Province / city or sales region.")
    )
    address = models.CharField(_("address"), max_length=300, blank=True)
    tax_id = models.CharField(
        _("tax id"),
        max_length=40,
        null=True,
        blank=True,
        unique=True,
        help_text=_("Unified social credit code."),
    )
    payment_terms = models.CharField(_("payment terms"), max_length=200, blank=True)
    credit_notes = models.TextField(_("credit notes"), blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("owner (sales)"), on_delete=models.PROTECT, related_name="+"
    )
    department = models.ForeignKey(
        "accounts.Department", verbose_name=_("department"), null=True, blank=True, on_delete=models.PROTECT
    )
    relationship = models.ForeignKey(
        Classification,
        verbose_name=_("relationship class"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"kind": ClassificationKind.RELATIONSHIP},
    )
    value_class = models.ForeignKey(
        Classification,
        verbose_name=_("value class"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"kind": ClassificationKind.VALUE},
    )
    preferred_language = models.CharField(
        _("preferred language"), max_length=10, choices=Language.choices, default=Language.ZH_HANS
    )
    preferred_channel = models.CharField(
        _("preferred channel"), max_length=20, choices=Channel.choices, default=Channel.EMAIL
    )
    over_delivery_tolerance = models.DecimalField(
        _("over-delivery tolerance (%)"),
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("Agreed quantity tolerance for deliveries and returns; empty: the company default."),
    )
    notes = models.TextField(_("notes"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    anonymised_at = models.DateTimeField(_("anonymised at"), null=True, blank=True, editable=False)
    #: Denormalised text the search index covers: names, code, tax id, contact names and phones.
    search_text = models.TextField(_("search text"), blank=True, editable=False)

    controlled = True
    permission_module = "customers"
    scope_owner_field = "owner"
    scope_department_field = "department"
    audit_exclude = ("created_at", "updated_at", "search_text")

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["code"]
        indexes = [
            models.Index(fields=["owner", "code"], name="cust_owner_code"),
            models.Index(fields=["department", "code"], name="cust_dept_code"),
            models.Index(fields=["customer_type", "code"], name="cust_type_code"),
        ]

    def __str__(self):
        return f"{self.code} {self.short_name or self.name}"


class Contact(CustomerScoped, VersionedModel):
    """A person at the customer (R-CU-2). Personal fields are masked for roles that don't need them."""

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="contacts"
    )
    name = models.CharField(_("name"), max_length=100)
    title = models.CharField(_("position"), max_length=100, blank=True)
    department_name = models.CharField(_("department"), max_length=100, blank=True)
    phone = models.CharField(_("office phone"), max_length=40, blank=True)
    mobile = models.CharField(_("mobile phone"), max_length=40, blank=True)
    email = models.EmailField(_("work e-mail"), blank=True)
    personal_email = models.EmailField(_("personal e-mail"), blank=True)
    id_number = models.CharField(_("ID number"), max_length=40, blank=True)
    preferred_language = models.CharField(
        _("preferred language"), max_length=10, choices=Language.choices, blank=True
    )
    is_primary = models.BooleanField(_("primary contact"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    notes = models.TextField(_("notes"), blank=True)

    controlled = True
    permission_module = "customers"
    #: Personal data (R-CU-6): shown only with customers.view_personal_data, else masked —
    #: and never copied into the audit trail (only "changed"), so anonymising really removes it.
    personal_fields = ("mobile", "personal_email", "id_number")
    audit_mask = personal_fields

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["customer", "-is_primary", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"], condition=models.Q(is_primary=True), name="uniq_primary_contact"
            )
        ]

    def __str__(self):
        return self.name


class Licence(CustomerScoped, VersionedModel):
    """A licence or qualification of the customer (R-CU-3); the scanned copy is an attachment."""

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="licences"
    )
    kind = models.CharField(_("kind"), max_length=30, choices=LicenceKind.choices)
    number = models.CharField(_("licence number"), max_length=80)
    categories = models.ManyToManyField(
        "catalog.ProductCategory", verbose_name=_("scope (product categories)"), blank=True, related_name="+"
    )
    scope_text = models.TextField(_("scope as written on the licence"), blank=True)
    authority = models.CharField(_("issuing authority"), max_length=200, blank=True)
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_until = models.DateField(
        _("valid until"), null=True, blank=True, help_text=_("Empty if it does not expire.")
    )
    is_active = models.BooleanField(
        _("active"), default=True, help_text=_("Untick when revoked or replaced.")
    )

    controlled = True
    permission_module = "customers"

    class Meta:
        verbose_name = _("licence")
        verbose_name_plural = _("licences")
        ordering = ["customer", "-valid_until"]
        indexes = [models.Index(fields=["valid_until"], name="licence_valid_until")]

    def __str__(self):
        return f"{self.get_kind_display()} {self.number}"


class Communication(CustomerScoped, VersionedModel):
    """An entry of the communication log 沟通记录 (R-CU-4), incl. plant and sales visits."""

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="communications"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=CommunicationKind.choices)
    direction = models.CharField(
        _("direction"), max_length=3, choices=Direction.choices, default=Direction.INCOMING
    )
    occurred_at = models.DateTimeField(_("date and time"))
    contact = models.ForeignKey(
        Contact,
        verbose_name=_("customer contact"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    subject = models.CharField(_("subject"), max_length=200)
    summary = models.TextField(_("content"), blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recorded by"), on_delete=models.PROTECT, related_name="+"
    )
    # Visits (客户来访 / 客户走访)
    notified_departments = models.ManyToManyField(
        "accounts.Department", verbose_name=_("visit notice to departments"), blank=True, related_name="+"
    )
    attendees = models.TextField(_("attendees"), blank=True)
    customer_opinions = models.TextField(_("customer's opinions and suggestions"), blank=True)
    #: Hook for later modules: what this entry was turned into (feedback, complaint, requirement).
    converted_to_type = models.CharField(_("converted to"), max_length=60, blank=True, editable=False)
    converted_to_id = models.CharField(_("converted to record"), max_length=40, blank=True, editable=False)

    permission_module = "customers"

    class Meta:
        verbose_name = _("communication")
        verbose_name_plural = _("communication log")
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["customer", "-occurred_at"], name="comm_customer_time")]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.subject}"


class FollowUpAction(CustomerScoped, VersionedModel):
    """An action agreed with or for the customer (from a log entry or on its own), with owner and due date."""

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="actions"
    )
    communication = models.ForeignKey(
        Communication,
        verbose_name=_("from communication"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="actions",
    )
    description = models.TextField(_("action"))
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("responsible"), on_delete=models.PROTECT, related_name="+"
    )
    due_date = models.DateField(_("due date"))
    status = models.CharField(
        _("status"), max_length=20, choices=ActionStatus.choices, default=ActionStatus.OPEN
    )
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    result = models.TextField(_("result"), blank=True)

    permission_module = "customers"

    class Meta:
        verbose_name = _("follow-up action")
        verbose_name_plural = _("follow-up actions")
        ordering = ["due_date", "id"]
        indexes = [models.Index(fields=["status", "due_date"], name="action_status_due")]

    def __str__(self):
        return self.description[:60]


class CustomerProperty(CustomerScoped, VersionedModel):
    """Something the company holds for the customer 顾客财产 (R-CU-5)."""

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="properties"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=PropertyKind.choices)
    name = models.CharField(_("name"), max_length=200)
    identification = models.CharField(
        _("identification"), max_length=100, blank=True, help_text=_("Number, mark or label.")
    )
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=2, default=1)
    location = models.CharField(_("location"), max_length=200, blank=True)
    condition = models.CharField(_("condition"), max_length=200, blank=True)
    received_on = models.DateField(_("received on"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=PropertyStatus.choices, default=PropertyStatus.IN_CUSTODY
    )
    notes = models.TextField(_("notes"), blank=True)

    controlled = True
    permission_module = "customers"

    class Meta:
        verbose_name = _("customer property")
        verbose_name_plural = _("customer property")
        ordering = ["customer", "name"]

    def __str__(self):
        return self.name


class PropertyIncident(CustomerScoped, VersionedModel):
    """Loss, damage or unsuitability of customer property, reported to the customer and kept."""

    customer_path = "property__customer__"

    property = models.ForeignKey(
        CustomerProperty, verbose_name=_("property"), on_delete=models.CASCADE, related_name="incidents"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=IncidentKind.choices)
    occurred_on = models.DateField(_("occurred on"))
    description = models.TextField(_("description"))
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("reported by"), on_delete=models.PROTECT, related_name="+"
    )
    notified_contact = models.ForeignKey(
        Contact,
        verbose_name=_("customer contact notified"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    customer_notified_at = models.DateTimeField(_("customer notified at"), null=True, blank=True)

    permission_module = "customers"

    class Meta:
        verbose_name = _("property incident")
        verbose_name_plural = _("property incidents")
        ordering = ["-occurred_on", "-id"]

    def __str__(self):
        return f"{self.get_kind_display()} {self.occurred_on}"


class CustomerPortalUser(CustomerScoped, QModel):
    """Links a portal user account to the one customer whose records they may see (P7, R-PO-1)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="customer_portal_link",
    )
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="portal_users"
    )

    permission_module = "customers"

    class Meta:
        verbose_name = _("portal user")
        verbose_name_plural = _("portal users")

    def __str__(self):
        return f"{self.user} → {self.customer}"


class CustomerAnonymisation(CustomerScoped, QModel):
    """The signed record of anonymising a customer on request (R-CU-6)."""

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="anonymisations"
    )
    request_reference = models.CharField(_("request reference"), max_length=200)
    reason = models.TextField(_("reason"))
    performed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("performed by"), on_delete=models.PROTECT, related_name="+"
    )
    performed_at = models.DateTimeField(_("performed at"))

    permission_module = "customers"
    signed_fields = ("customer_id", "request_reference", "reason", "performed_at")

    class Meta:
        verbose_name = _("anonymisation")
        verbose_name_plural = _("anonymisations")

    def __str__(self):
        return f"{self.customer_id} {self.performed_at:%Y-%m-%d}"
