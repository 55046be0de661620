from decimal import Decimal

import factory
from allauth.account.models import EmailAddress
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.accounts.models import Address, User

DEFAULT_PASSWORD = "correct-horse-battery-staple-42"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    first_name = "Alex"
    last_name = "Tan"

    @factory.post_generation
    def password(self, create, extracted, **kwargs):
        self.set_password(extracted or DEFAULT_PASSWORD)
        if create:
            self.save(update_fields=["password"])

    @factory.post_generation
    def verified_email(self, create, extracted, **kwargs):
        if create and extracted is not False:
            EmailAddress.objects.create(user=self, email=self.email, verified=True, primary=True)


class StaffFactory(UserFactory):
    is_staff = True
    is_superuser = True


def totp_device_for(user: User) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)


def current_totp(device: TOTPDevice, *, drift: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.drift = drift
    return f"{totp.token():0{device.digits}d}"


class AddressFactory(factory.django.DjangoModelFactory):
    """An address saved directly (no service): pass ``is_default=True`` for the user's default."""

    class Meta:
        model = Address

    user = factory.SubFactory(UserFactory)
    label = "Home"
    recipient_name = "Alex Tan"
    phone = "+65 9123 4567"
    line1 = factory.Sequence(lambda n: f"{n + 1} Orchard Road")
    line2 = "#05-01"
    postcode = "238801"
    latitude = Decimal("1.303600")
    longitude = Decimal("103.831800")
