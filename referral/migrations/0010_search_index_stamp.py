"""The search index's stamp (referral.SearchIndexStamp) and the triggers that change it with every write.

PostgreSQL: one trigger per statement, *before* it writes: the stamp row's lock is then taken before any index
row's, so two transactions writing the index queue at their first write instead of deadlocking on each other's
rows. SQLite has row triggers only (its writers are serialised anyway); they update the one row, or insert it
when a flush removed it, without a conflict (a trigger's `OR REPLACE` would yield to the outer statement's
conflict clause, e.g. the refresh's upsert).
"""

import secrets

from django.db import migrations, models

TABLE, STAMP = "referral_searchentry", "referral_searchindexstamp"

POSTGRESQL = [
    f"""CREATE FUNCTION {STAMP}_renew() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO {STAMP} (id, token) VALUES (1, gen_random_uuid()::text)
        ON CONFLICT (id) DO UPDATE SET token = EXCLUDED.token;
        RETURN NULL;
    END $$""",
    f"""CREATE TRIGGER {TABLE}_stamp BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON {TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION {STAMP}_renew()""",
]
POSTGRESQL_REVERSE = [f"DROP TRIGGER {TABLE}_stamp ON {TABLE}", f"DROP FUNCTION {STAMP}_renew()"]

SQLITE = [
    f"""CREATE TRIGGER {TABLE}_stamp_{event.lower()} AFTER {event} ON {TABLE} BEGIN
    UPDATE {STAMP} SET token = lower(hex(randomblob(16))) WHERE id = 1;
    INSERT INTO {STAMP} (id, token) SELECT 1, lower(hex(randomblob(16)))
    WHERE NOT EXISTS (SELECT 1 FROM {STAMP} WHERE id = 1); END"""
    for event in ("INSERT", "UPDATE", "DELETE")
]
SQLITE_REVERSE = [f"DROP TRIGGER {TABLE}_stamp_{event}" for event in ("insert", "update", "delete")]


def create_triggers(apps, schema_editor):
    run(schema_editor, POSTGRESQL if schema_editor.connection.vendor == "postgresql" else SQLITE)
    apps.get_model("referral", "SearchIndexStamp").objects.using(schema_editor.connection.alias).create(
        id=1, token=secrets.token_hex(16)
    )


def drop_triggers(apps, schema_editor):
    run(schema_editor, POSTGRESQL_REVERSE if schema_editor.connection.vendor == "postgresql" else SQLITE_REVERSE)


def run(schema_editor, statements):
    for statement in statements:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("referral", "0009_search_entry_inputs")]

    operations = [
        migrations.CreateModel(
            name="SearchIndexStamp",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("token", models.CharField(max_length=36)),
            ],
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
