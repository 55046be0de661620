"""Load the demo data of every app (idempotent) and print the demo logins."""

from django.core.management.base import BaseCommand

from apps.core.registry import demo_seeders


class Command(BaseCommand):
    help = "Create demo data for every app (safe to run again) and print the demo logins."

    def handle(self, *args, **options):
        seeders = demo_seeders.items()
        for index, (name, seeder) in enumerate(seeders, start=1):
            self.stdout.write(f"[{index}/{len(seeders)}] seeding {name}…")
            for line in seeder() or []:
                self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS(f"Demo data ready ({len(seeders)} app(s) seeded)."))
