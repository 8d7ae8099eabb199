"""Users, departments and roles (P7)."""

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils.translation import gettext_lazy as _

from qcare.core.models import QModel, RestrictedQuerySet, Scope


class Department(QModel):
    """A department of the company (销售部, 品质部, …)."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100, blank=True)
    parent = models.ForeignKey(
        "self", verbose_name=_("parent department"), null=True, blank=True, on_delete=models.PROTECT
    )
    manager = models.ForeignKey(
        "accounts.User",
        verbose_name=_("manager"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_departments",
    )
    is_active = models.BooleanField(_("active"), default=True)

    permission_module = "accounts"

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["code"]

    def __str__(self):
        return self.name


class Role(QModel):
    """A bundle of permissions held by users (sales clerk, GM, auditor, …)."""

    code = models.SlugField(_("code"), max_length=60, unique=True)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100, blank=True)
    description = models.TextField(_("description"), blank=True)
    is_system = models.BooleanField(_("system role"), default=False)

    permission_module = "accounts"

    class Meta:
        verbose_name = _("role")
        verbose_name_plural = _("roles")
        ordering = ["code"]

    def __str__(self):
        return self.name


class RolePermission(QModel):
    """One permission (``module.action``) a role grants, with its scope."""

    role = models.ForeignKey(Role, verbose_name=_("role"), on_delete=models.CASCADE, related_name="grants")
    permission = models.CharField(_("permission"), max_length=100)
    scope = models.CharField(_("scope"), max_length=20, choices=Scope.choices, default=Scope.ALL)

    permission_module = "accounts"

    class Meta:
        verbose_name = _("role permission")
        verbose_name_plural = _("role permissions")
        constraints = [models.UniqueConstraint(fields=["role", "permission"], name="uniq_role_permission")]

    def __str__(self):
        return f"{self.role.code}:{self.permission}@{self.scope}"


class QUserManager(UserManager.from_queryset(RestrictedQuerySet)):
    pass


class User(QModel, AbstractUser):
    """A person who signs in: staff, external auditor (time-limited) or portal customer."""

    full_name = models.CharField(_("full name"), max_length=150, help_text=_("Printed in signatures."))
    department = models.ForeignKey(
        Department,
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
    )
    roles = models.ManyToManyField(Role, verbose_name=_("roles"), blank=True, related_name="users")
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    language = models.CharField(
        _("language"), max_length=10, choices=[("zh-hans", "简体中文"), ("en", "English")], default="zh-hans"
    )
    access_expires_at = models.DateTimeField(
        _("access expires at"),
        null=True,
        blank=True,
        help_text=_("For time-limited accounts such as external auditors."),
    )
    #: Incremented on password change or deactivation: every older session is logged out.
    session_epoch = models.PositiveIntegerField(_("session epoch"), default=0, editable=False)
    signing_failures = models.PositiveSmallIntegerField(
        _("consecutive failed signatures"), default=0, editable=False
    )
    signing_locked_at = models.DateTimeField(_("signing locked at"), null=True, blank=True, editable=False)

    objects = QUserManager()

    audit_mask = ("password",)
    audit_exclude = ("updated_at", "last_login")
    permission_module = "accounts"
    scope_department_field = "department"
    scope_owner_field = "pk"

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["username"]

    def __str__(self):
        return self.full_name or self.username

    def get_full_name(self):
        return self.full_name or super().get_full_name() or self.username
