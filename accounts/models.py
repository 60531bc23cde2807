"""Users, accounts (tenants), memberships with roles, invitations and the audit log."""

import zoneinfo
from datetime import timedelta
from typing import ClassVar, cast

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.crypto import decrypt
from accounts.ids import new_api_id, new_public_id
from accounts.roles import Perm, Role, role_can


def time_zone_choices() -> list[tuple[str, str]]:
    # Read at run time, not stored in a migration: the zone list changes with the machine's tzdata.
    return sorted((tz, tz) for tz in zoneinfo.available_timezones() if "/" in tz or tz == "UTC")


def default_time_zone() -> str:
    return settings.DEFAULT_ACCOUNT_TIME_ZONE


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(_("%(value)s is not a known time zone.") % {"value": value}) from exc


class UserManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, username):
        # Emails are stored lower-cased; logging in is case-insensitive.
        return self.get(email__iexact=username)

    def create_user(self, email: str, password: str | None = None, **fields) -> "User":
        if not email:
            raise ValueError("An email address is required.")
        user = cast(User, self.model(email=self.normalize_email(email).lower(), **fields))
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields) -> "User":
        fields.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who logs in with an email address. What they may do is decided per account by Membership."""

    email = models.EmailField(_("email address"), unique=True)
    full_name = models.CharField(_("full name"), max_length=150, blank=True)
    is_staff = models.BooleanField(
        _("staff status"), default=False, help_text=_("Platform staff may use the Django admin.")
    )
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)
    # The console's language for this person; empty: the browser's (Accept-Language).
    language = models.CharField(_("language"), max_length=10, blank=True, choices=settings.LANGUAGES)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.email

    def save(self, *args, **kwargs):
        self.email = self.email.strip().lower()
        super().save(*args, **kwargs)

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


class AccountKind(models.TextChoices):
    PERSONAL = "personal", _("Personal")
    ENTERPRISE = "enterprise", _("Enterprise")


class Account(models.Model):
    """A tenant: everything a customer sends and configures belongs to one account.

    Limit fields left empty follow the platform defaults (settings.DIRECTMAIL_DEFAULT_LIMITS); staff set a
    number to override one account. Read them through `limit()`.
    """

    public_id = models.CharField(max_length=16, unique=True, default=new_public_id, editable=False)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(
        _("kind"), max_length=16, choices=AccountKind.choices, default=AccountKind.PERSONAL
    )
    time_zone = models.CharField(
        _("time zone"), max_length=64, default=default_time_zone, validators=[validate_time_zone]
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    # Four eyes: a template version may only be approved by someone other than who submitted it.
    templates_need_second_person = models.BooleanField(
        _("template approval needs a second person"), default=False
    )
    # IP protection (DirectMail's switch): on, the API answers only the addresses of the account's list
    # (an empty list lets everyone in); off, the list is kept but not applied.
    ip_protection = models.BooleanField(_("IP protection"), default=True, db_default=True)
    # DirectMail's SuppressionListLevel: USER, this account's list only; GLOBAL, also the addresses that
    # hard-bounced for any account of this server.
    suppression_list_level = models.CharField(
        _("suppression list level"),
        max_length=8,
        choices=[("USER", _("This account's list")), ("GLOBAL", _("Also every account's hard bounces"))],
        default="USER",
        db_default="USER",
    )

    max_domains = models.PositiveIntegerField(_("sending domains"), null=True, blank=True)
    max_sender_addresses = models.PositiveIntegerField(_("sender addresses"), null=True, blank=True)
    sender_address_deletions = models.PositiveIntegerField(
        _("sender address deletions per month"), null=True, blank=True
    )
    max_tags = models.PositiveIntegerField(_("tags"), null=True, blank=True)
    max_recipient_lists = models.PositiveIntegerField(_("recipient lists"), null=True, blank=True)
    max_recipients_per_list = models.PositiveIntegerField(_("addresses per list"), null=True, blank=True)
    max_templates = models.PositiveIntegerField(_("templates"), null=True, blank=True)
    daily_quota = models.PositiveIntegerField(_("daily quota"), null=True, blank=True)
    # The weekly reputation review moves the daily quota between these (empty: the platform's bounds).
    quota_floor = models.PositiveIntegerField(_("lowest daily quota"), null=True, blank=True)
    quota_ceiling = models.PositiveIntegerField(_("highest daily quota"), null=True, blank=True)
    monthly_quota = models.PositiveIntegerField(
        _("monthly quota"), null=True, blank=True, help_text=_("Empty: 30 times the daily quota.")
    )
    free_daily_sends = models.PositiveIntegerField(_("free sends per day"), null=True, blank=True)
    # Address validation (sending.validation): checks per day and per month (a check without an SMTP
    # probe costs a third).
    validation_daily_quota = models.PositiveIntegerField(
        _("address validations per day"), null=True, blank=True
    )
    validation_monthly_quota = models.PositiveIntegerField(
        _("address validations per month"), null=True, blank=True
    )

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")

    def __str__(self) -> str:
        return self.name

    def limit(self, key: str) -> int:
        """The limit in force: this account's override, else the platform default."""
        value = getattr(self, key)
        if value is not None:
            return value
        defaults = settings.DIRECTMAIL_DEFAULT_LIMITS
        if key == "monthly_quota":
            return self.limit("daily_quota") * 30
        if key == "sender_address_deletions":
            return defaults[f"sender_address_deletions_{self.kind}"]
        return defaults[key]

    def today(self):
        """Today's date in the account's time zone: quota days and months roll over at its midnight."""
        return timezone.now().astimezone(zoneinfo.ZoneInfo(self.time_zone)).date()

    def membership_for(self, user) -> "Membership | None":
        if not user.is_authenticated:
            return None
        return self.memberships.filter(user=user).first()


class MembershipQuerySet(models.QuerySet):
    def owners(self):
        return self.filter(role=Role.OWNER)


class Membership(models.Model):
    """A user's role in an account."""

    public_id = models.CharField(max_length=16, unique=True, default=new_public_id, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(_("joined"), default=timezone.now)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "account"], name="membership_user_account_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.account}"  # no words: audit entries keep it whatever the language

    def can(self, perm: Perm) -> bool:
        return role_can(self.role, perm)


class InvitationStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    ACCEPTED = "accepted", _("Accepted")
    EXPIRED = "expired", _("Expired")
    REVOKED = "revoked", _("Revoked")


class InvitationQuerySet(models.QuerySet):
    def pending(self):
        return self.filter(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now())


class Invitation(models.Model):
    """An invitation, mailed as a signed link, to join an account with a role."""

    TOKEN_SALT = "accounts.invitation"  # noqa: S105 (a signing namespace, not a secret)

    public_id = models.CharField(max_length=16, unique=True, default=new_public_id, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(_("email address"))
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        constraints = [
            # One open invitation per address and account; accepted and revoked ones stay as history.
            models.UniqueConstraint(
                Lower("email"),
                "account",
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_open_per_email",
            )
        ]

    def __str__(self) -> str:
        return f"{self.email} to {self.account}"

    def save(self, *args, **kwargs):
        self.email = self.email.strip().lower()
        if not self.expires_at:
            self.expires_at = timezone.now() + timedelta(days=settings.INVITATION_MAX_AGE_DAYS)
        super().save(*args, **kwargs)

    @property
    def status(self) -> str:
        if self.accepted_at:
            return InvitationStatus.ACCEPTED
        if self.revoked_at:
            return InvitationStatus.REVOKED
        if self.expires_at <= timezone.now():
            return InvitationStatus.EXPIRED
        return InvitationStatus.PENDING

    def get_status_display(self) -> str:
        return str(InvitationStatus(self.status).label)

    @property
    def token(self) -> str:
        return signing.dumps(self.public_id, salt=self.TOKEN_SALT)

    @classmethod
    def from_token(cls, token: str) -> "Invitation | None":
        """The invitation a link names, or None when the signature is bad or the link is too old."""
        try:
            public_id = signing.loads(
                token, salt=cls.TOKEN_SALT, max_age=timedelta(days=settings.INVITATION_MAX_AGE_DAYS)
            )
        except signing.BadSignature:
            return None
        return cls.objects.select_related("account").filter(public_id=public_id).first()


class AuditEntry(models.Model):
    """Who did what to which object, when, from where. Written by the services, never edited."""

    account = models.ForeignKey(
        Account, on_delete=models.SET_NULL, null=True, blank=True, related_name="audit_entries"
    )
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # An API access key id when the change came through the API; the label keeps the name readable after
    # the user or key is gone.
    actor_key_id = models.CharField(max_length=64, blank=True)
    actor_label = models.CharField(max_length=254)
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_repr = models.CharField(max_length=200, blank=True)
    details = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["account", "-created_at"], name="audit_account_time")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.target_repr}"


class AccessKey(models.Model):
    """An API key of an account: an AccessKey ID and a secret that signs requests (shown once, encrypted)."""

    key_id = models.CharField(_("AccessKey ID"), max_length=32, unique=True, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="access_keys")
    description = models.CharField(_("description"), max_length=100, blank=True)
    # The secret is needed in clear to verify signatures, so it is encrypted (accounts.crypto), not hashed.
    secret_encrypted = models.TextField(editable=False)
    is_active = models.BooleanField(_("enabled"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        verbose_name = _("access key")
        verbose_name_plural = _("access keys")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.key_id

    @property
    def public_id(self) -> str:
        return self.key_id

    def secret(self) -> str:
        return decrypt(self.secret_encrypted)


class IpFilter(models.Model):
    """One entry of an account's IP protection allow-list: an address or a network in CIDR form."""

    public_id = models.CharField(max_length=16, unique=True, default=new_public_id, editable=False)
    api_id = models.BigIntegerField(unique=True, default=new_api_id, editable=False)  # the API's Id
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="ip_filters")
    network = models.CharField(_("IP address or network"), max_length=64)  # normalized, e.g. 203.0.113.0/24
    description = models.CharField(_("description"), max_length=100, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("IP protection entry")
        verbose_name_plural = _("IP protection")
        ordering = ["network"]
        constraints = [models.UniqueConstraint(fields=["account", "network"], name="ipfilter_unique")]

    def __str__(self) -> str:
        return self.network


class LoginThrottle(models.Model):
    """Password attempts counted for one scope (a client address, a login) within a window: console log-in,
    password confirmation and SMTP AUTH (accounts.throttle)."""

    scope = models.CharField(max_length=300, unique=True)  # e.g. "login-ip:203.0.113.7"
    attempts = models.PositiveIntegerField(default=0)
    window_ends_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["window_ends_at"], name="loginthrottle_window")]

    def __str__(self) -> str:
        return f"{self.scope}: {self.attempts}"
