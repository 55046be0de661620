"""The user: identified by email (no username), with a preferred language; and the buyer's
address book."""

import re

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from apps.core.models import TimeStampedModel


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        email = self.normalize_email(email).lower()
        user = self.model(email=email, **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email: str, password: str | None = None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        if not extra_fields["is_staff"] or not extra_fields["is_superuser"]:
            raise ValueError("A superuser must have is_staff and is_superuser set.")
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    username = None
    email = models.EmailField(_("email address"), unique=True)
    preferred_language = models.CharField(
        _("preferred language"), max_length=10, choices=settings.LANGUAGES, default="en"
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique")]

    def __str__(self) -> str:
        return self.email

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.email.split("@", 1)[0]


SG_POSTCODE_RE = re.compile(r"^\d{6}$")

# Loose on purpose: digits, spaces, "+" and "-", 6–20 characters, with at least six digits.
phone_validator = RegexValidator(
    r"^(?=(?:[^0-9]*[0-9]){6})[0-9+\- ]{6,20}$",
    _("Enter a phone number of 6 to 20 characters using digits, spaces, “+” and “-”, e.g. +65 9123 4567."),
    code="invalid_phone",
)
country_code_validator = RegexValidator(
    r"^[A-Z]{2}$", _("Enter the two-letter country code, e.g. SG."), code="invalid_country"
)


class Address(TimeStampedModel):
    """A place a buyer has orders delivered to. Each user has at most one default address.

    Coordinates come from the postcode's district (Singapore only) and are empty when unknown.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="addresses"
    )
    label = models.CharField(_("label"), max_length=40, blank=True, help_text=_("For example “Home” or “Office”."))
    recipient_name = models.CharField(_("recipient name"), max_length=120)
    phone = models.CharField(_("phone"), max_length=20, validators=[phone_validator])
    line1 = models.CharField(_("address"), max_length=200, help_text=_("Block, street and building."))
    line2 = models.CharField(_("address line 2"), max_length=200, blank=True, help_text=_("Unit number, floor."))
    postcode = models.CharField(_("postcode"), max_length=12)
    city = models.CharField(_("city"), max_length=100, default="Singapore")
    country = models.CharField(_("country"), max_length=2, default="SG", validators=[country_code_validator])
    latitude = models.DecimalField(
        _("latitude"),
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(-90), MaxValueValidator(90)],
    )
    longitude = models.DecimalField(
        _("longitude"),
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(-180), MaxValueValidator(180)],
    )
    is_default = models.BooleanField(_("default address"), default=False)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        ordering = ["-is_default", "-created_at", "-id"]
        verbose_name = _("address")
        verbose_name_plural = _("addresses")
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(is_default=True),
                name="accounts_address_one_default_per_user",
                violation_error_message=_("You already have a default address."),
            ),
            models.CheckConstraint(
                condition=Q(latitude__isnull=True, longitude__isnull=True)
                | Q(latitude__gte=-90, latitude__lte=90, longitude__gte=-180, longitude__lte=180),
                name="accounts_address_coordinates_valid",
            ),
        ]

    def __str__(self) -> str:
        name = self.label or self.recipient_name
        return f"{name}: {self.line1}, {self.postcode}"

    def clean(self) -> None:
        super().clean()
        if self.country == "SG" and not SG_POSTCODE_RE.match(self.postcode or ""):
            raise ValidationError({"postcode": _("A Singapore postcode has six digits, e.g. 238801.")})

    def snapshot(self) -> dict:
        """The address as plain JSON-safe data for an order to keep, unaffected by later edits.

        ``lines`` holds the non-empty address lines; ``lat``/``lon`` are decimal strings or None.
        """
        return {
            "recipient": self.recipient_name,
            "phone": self.phone,
            "lines": [line for line in (self.line1, self.line2) if line],
            "postcode": self.postcode,
            "city": self.city,
            "country": self.country,
            "lat": None if self.latitude is None else str(self.latitude),
            "lon": None if self.longitude is None else str(self.longitude),
        }
