"""Demo accounts for ``manage.py seed_demo``: a buyer, a seller and a platform admin."""

from __future__ import annotations

from allauth.account.models import EmailAddress
from django.db import transaction

from .models import User

DEMO_PASSWORD = "LocalBazaar-demo-2026"  # noqa: S105  (demo data only, printed by make run)
DEMO_USERS = [
    ("buyer", "buyer@localbazaar.test", "Bea", "Buyer", {}),
    ("seller", "seller@localbazaar.test", "Sam", "Seller", {}),
    ("admin", "admin@localbazaar.test", "Ada", "Admin", {"is_staff": True, "is_superuser": True}),
]


@transaction.atomic
def seed_demo_accounts() -> list[str]:
    lines = []
    for role, email, first, last, flags in DEMO_USERS:
        user, created = User.objects.get_or_create(
            email=email, defaults={"first_name": first, "last_name": last, **flags}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        EmailAddress.objects.update_or_create(user=user, email=email, defaults={"verified": True, "primary": True})
        lines.append(f"  {role:<7} {email:<26} password: {DEMO_PASSWORD}")
    lines.append("  (the admin sets up two-factor authentication on the first visit to /admin/)")
    return ["Demo logins:", *lines]
