"""Sealing without touching the events: a batch's events are the next ones in (txid, id) order (issue #16).

Migration 0005 sealed an event by setting its `seal_position`, an UPDATE of every
event: a second heap tuple and a second entry in each of the table's indexes, which
halved the write throughput the lock-free append had gained (bench/README.md, "Audit").
Now nothing updates an event. The order is already in each row: on PostgreSQL the
sealer seals, in (txid, id) order, only events whose transaction id is below the
oldest one still running, so every event sorting before a sealed one is final, and
every later event sorts after it (a later transaction has a higher id). A batch
records how many events it holds and the (txid, id) of its last one; its events are
the next `event_count` after the previous batch's last. On SQLite (one writer at a
time, ids never reused) the order is id. An index on (txid, id) serves the sealer,
`audit_verify` and the unsealed-events gauges.

The events' trigger is back to refusing every UPDATE but the actor's SET NULL; the
INSERT trigger only stamps `txid`. Batches sealed under 0005 (on main for an hour,
never released) cannot be re-read in the new order: they are removed and the head's
batch columns reset, here and only here, so the sealer seals those events again.
"""

from importlib import import_module

from django.db import migrations, models

_0005 = import_module("audit.migrations.0005_seal_batches")

PG_FORWARD = """
CREATE OR REPLACE FUNCTION audit_auditevent_stamp() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.txid := pg_current_xact_id()::text::bigint;
    RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION audit_auditevent_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        IF current_setting('docuid.audit_allow_truncate', true) = 'on'
           AND current_database() LIKE 'test\\_%' THEN
            RETURN NULL;
        END IF;
    ELSIF TG_OP = 'UPDATE' THEN
        -- Deleting a user applies the FK's SET NULL (actor_repr keeps who it was).
        IF OLD.actor_id IS NOT NULL AND NEW.actor_id IS NULL
           AND (to_jsonb(NEW) - 'actor_id') = (to_jsonb(OLD) - 'actor_id') THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'audit_auditevent is append-only: % is not allowed', TG_OP
        USING HINT = 'Audit events are written only through audit.record() and never changed.';
END
$$;
"""

# Batches sealed under 0005 are removed (see the docstring): the batch table's and the head's
# triggers are dropped for it and created again as 0005 made them.
PG_RESET = """
DROP TRIGGER IF EXISTS audit_batch_no_update_delete ON audit_batch;
DROP TRIGGER IF EXISTS audit_chainhead_forward_only ON audit_chainhead;
DELETE FROM audit_batch;
UPDATE audit_chainhead SET last_batch_seq = 0, last_batch_hash = '';
CREATE TRIGGER audit_batch_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_batch
    FOR EACH ROW EXECUTE FUNCTION audit_batch_append_only();
CREATE TRIGGER audit_chainhead_forward_only
    BEFORE UPDATE OR DELETE ON audit_chainhead
    FOR EACH ROW EXECUTE FUNCTION audit_chainhead_forward_only();
"""

_EVENT_COLUMNS = (
    "id", "time", "action", "outcome", "actor_id", "actor_repr", "target_type", "target_id", "target_repr",
    "request_id", "masked_ip", "user_agent", "data", "prev_hash", "hash", "txid",
)  # fmt: skip
_UNCHANGED = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in _EVENT_COLUMNS if c != "actor_id")

SQLITE_TRIGGERS = {
    "audit_auditevent_no_update": f"""
CREATE TRIGGER audit_auditevent_no_update BEFORE UPDATE ON audit_auditevent
WHEN NOT (OLD.actor_id IS NOT NULL AND NEW.actor_id IS NULL AND {_UNCHANGED})
BEGIN SELECT RAISE(ABORT, 'audit_auditevent is append-only: UPDATE is not allowed'); END
""",
    **{
        name: sql
        for name, sql in _0005.SQLITE_TRIGGERS.items()
        if name not in ("audit_auditevent_no_update", "audit_auditevent_no_sealed_insert")
    },
}


def drop_sqlite_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for name in _0005.SQLITE_TRIGGERS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}", params=None)
        schema_editor.execute("DELETE FROM audit_batch", params=None)
        schema_editor.execute("UPDATE audit_chainhead SET last_batch_seq = 0, last_batch_hash = ''", params=None)


def restore_0005_sqlite_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for sql in _0005.SQLITE_TRIGGERS.values():
            schema_editor.execute(sql, params=None)


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_RESET, params=None)
        schema_editor.execute(PG_FORWARD, params=None)
    elif vendor == "sqlite":
        for name, sql in SQLITE_TRIGGERS.items():
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}", params=None)
            schema_editor.execute(sql, params=None)


def uninstall(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        # 0005's functions and its own triggers, as 0005 made them.
        schema_editor.execute(
            "DROP TRIGGER IF EXISTS audit_auditevent_stamp ON audit_auditevent; "
            "DROP TRIGGER IF EXISTS audit_batch_no_update_delete ON audit_batch; "
            "DROP TRIGGER IF EXISTS audit_batch_no_truncate ON audit_batch;",
            params=None,
        )
        schema_editor.execute(_0005.PG_FORWARD, params=None)
    elif vendor == "sqlite":
        for name in SQLITE_TRIGGERS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}", params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0005_seal_batches")]

    operations = [
        migrations.RunPython(drop_sqlite_triggers, restore_0005_sqlite_triggers, elidable=False),
        migrations.RemoveIndex(model_name="auditevent", name="audit_unsealed_idx"),
        migrations.RemoveField(model_name="auditevent", name="seal_position"),
        migrations.AlterField(
            model_name="auditevent",
            name="txid",
            field=models.BigIntegerField(
                editable=False,
                help_text="PostgreSQL: id of the inserting transaction (set by a trigger); the sealing order is (txid, id).",
                null=True,
            ),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                condition=models.Q(("prev_hash__isnull", True)), fields=["txid", "id"], name="audit_seal_order_idx"
            ),
        ),
        migrations.AddField(
            model_name="auditbatch",
            name="last_txid",
            field=models.BigIntegerField(
                editable=False,
                help_text="PostgreSQL: txid of the batch's last event (the sealing order's key).",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="auditbatch",
            name="last_event_id",
            field=models.BigIntegerField(default=0, editable=False, help_text="Id of the batch's last event."),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="auditbatch",
            name="first_position",
            field=models.BigIntegerField(editable=False, help_text="Position of the batch's first event (from 1)."),
        ),
        migrations.AlterField(
            model_name="auditbatch",
            name="last_position",
            field=models.BigIntegerField(editable=False, help_text="Position of the batch's last event."),
        ),
        migrations.RunPython(install, uninstall, elidable=False),
    ]
