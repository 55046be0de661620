"""Make the payout ledger append-only in the database (PostgreSQL).

A trigger refuses every UPDATE and DELETE of a payout entry: a correction is a new line. (The shop
foreign key is PROTECT, so deleting a shop with a ledger is refused too.) SQLite (the demo) relies
on the code alone.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION payments_payoutentry_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the payout ledger is append-only: record a new entry instead of changing entry %', OLD.id
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER payments_payoutentry_append_only
BEFORE UPDATE OR DELETE ON payments_payoutentry
FOR EACH ROW EXECUTE FUNCTION payments_payoutentry_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS payments_payoutentry_append_only ON payments_payoutentry;
DROP FUNCTION IF EXISTS payments_payoutentry_append_only();
"""


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)  # no placeholders: % is literal


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(create_trigger, drop_trigger, elidable=False),
    ]
