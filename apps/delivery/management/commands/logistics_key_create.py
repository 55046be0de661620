"""Create a platform logistics key for a delivery partner (every shop's delivery orders):

    manage.py logistics_key_create "Speedy Couriers"

The secret is printed once: give it to the partner, who sends ``Authorization: Logistics-Key <key>``
to ``/api/v1/logistics/...``. Only its SHA-256 is kept; revoke it in the admin.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from apps.delivery.errors import DeliveryError
from apps.delivery.services_keys import logistics_key_create


class Command(BaseCommand):
    help = "Create a platform logistics key for a delivery partner; the secret is shown once."

    def add_arguments(self, parser):
        parser.add_argument("name", help="The delivery partner's name.")

    def handle(self, *args, name: str, **options):
        try:
            key, raw = logistics_key_create(name=name)
        except DeliveryError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Key for {key.name} (prefix {key.prefix}); copy it now, it is not shown again:")
        self.stdout.write(raw)
        self.stdout.write(self.style.SUCCESS(f"Created platform logistics key {key.prefix} for {key.name}."))
