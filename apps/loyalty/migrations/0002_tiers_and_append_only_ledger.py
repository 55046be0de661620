"""The starting tiers (bronze, silver, gold: editable in the admin) and an append-only ledger.

On PostgreSQL a trigger refuses every UPDATE and DELETE of a ledger entry: a correction is a new
entry. (The account foreign key is PROTECT, so deleting an account with entries is refused too.)
SQLite (the demo) relies on the code alone.
"""

from decimal import Decimal

from django.db import migrations

TIERS = [
    # code, name, 12-month spend in points' worth (a point is about one US cent), rebate rate
    ("bronze", "Bronze", 0, Decimal("0.0100")),
    ("silver", "Silver", 30_000, Decimal("0.0200")),
    ("gold", "Gold", 100_000, Decimal("0.0300")),
]

CREATE = """
CREATE OR REPLACE FUNCTION loyalty_ledgerentry_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the loyalty ledger is append-only: record a new entry instead of changing entry %', OLD.id
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER loyalty_ledgerentry_append_only
BEFORE UPDATE OR DELETE ON loyalty_ledgerentry
FOR EACH ROW EXECUTE FUNCTION loyalty_ledgerentry_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS loyalty_ledgerentry_append_only ON loyalty_ledgerentry;
DROP FUNCTION IF EXISTS loyalty_ledgerentry_append_only();
"""


def tiers_create(apps, schema_editor):
    Tier = apps.get_model("loyalty", "Tier")
    for code, name, min_spend, rate in TIERS:
        Tier.objects.get_or_create(code=code, defaults={"name": name, "min_spend": min_spend, "rate": rate})


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)  # no placeholders: % is literal


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(tiers_create, migrations.RunPython.noop, elidable=False),
        migrations.RunPython(create_trigger, drop_trigger, elidable=False),
    ]
