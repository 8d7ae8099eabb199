"""Users, departments and roles (P7)."""

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from qcare.core.models import QModel, RestrictedQuerySet, Scope


class LocalizedNameMixin:
    """``display_name``: the English name when the UI is in English and one is set, else the Chinese."""

    @property
    def display_name(self):
        lang = (get_language() or "").lower()
        if lang.startswith("en") and self.name_en:
            return self.name_en
        return self.name


class Department(LocalizedNameMixin, QModel):
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
        return self.display_name


class Role(LocalizedNameMixin, QModel):
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
        return self.display_name


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
    #: Set when an administrator assigns a temporary password; cleared by the user's own change.
    must_change_password = models.BooleanField(_("must change password"), default=False, editable=False)

    objects = QUserManager()

    audit_mask = ("password",)
    audit_exclude = ("created_at", "updated_at", "last_login")
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


class ApiToken(QModel):
    """A bearer token for integrations. Only a SHA-256 hash of the secret is stored.

    The raw token is ``qc_<prefix>_<secret>``; ``prefix`` finds the row, the hash of the whole
    token is compared in constant time (see :mod:`qcare.accounts.tokens`).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    token_hash = models.CharField(_("token hash"), max_length=64, editable=False)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True, editable=False)

    audit_mask = ("token_hash",)
    audit_exclude = ("created_at", "updated_at", "last_used_at")
    permission_module = "accounts"
    scope_owner_field = "user"

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self):
        """Neither revoked nor expired."""
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()
