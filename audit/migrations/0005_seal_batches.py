"""The audit trail without a global lock: plain inserts, sealed later into hash-linked batches (issue #16).

Until 0004 every append took one advisory lock until the caller's transaction
committed (audit_append_event), so every audited action of the deployment queued
on it. Now:

- An event is a plain INSERT whose `hash` covers only its own content; a BEFORE
  INSERT trigger stamps `txid` with the inserting transaction's id on PostgreSQL
  (pg_current_xact_id(), 64-bit: no wraparound) and refuses an event that arrives
  already sealed. audit_append_event is dropped.
- The sealer (audit.services.audit_seal) sets each committed event's
  `seal_position` once and records runs of positions in `audit_batch` (Merkle root,
  previous batch's hash). The events' trigger allows exactly that UPDATE: from NULL
  to a value, on an event outside the legacy chain, nothing else changed. Batches
  are never updated or deleted (triggers on both databases).
- The head row's legacy columns are frozen; only `last_batch_seq` moves, forward.
- Events written before this migration keep their chain (`prev_hash`, now NULL for
  new events); `audit_verify` walks it, and the first batch links to its head.

On SQLite the triggers are dropped before the schema changes (the schema editor
rebuilds a table to alter it) and created again after them.
"""

from importlib import import_module

from django.conf import settings
from django.db import migrations, models

_0002 = import_module("audit.migrations.0002_append_only_trigger")
_0004 = import_module("audit.migrations.0004_chain_head")

PG_FORWARD = """
DROP FUNCTION IF EXISTS audit_append_event(bigint, text, text, text, varchar, varchar, bigint, varchar, varchar,
    varchar, varchar, varchar, varchar, varchar, jsonb);

CREATE OR REPLACE FUNCTION audit_auditevent_stamp() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.seal_position IS NOT NULL THEN
        RAISE EXCEPTION 'audit_auditevent: a new event cannot arrive sealed'
            USING HINT = 'Only the sealer (audit_seal) sets seal_position, once, on a committed event.';
    END IF;
    NEW.txid := pg_current_xact_id()::text::bigint;
    RETURN NEW;
END
$$;
CREATE TRIGGER audit_auditevent_stamp
    BEFORE INSERT ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_auditevent_stamp();

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
        -- The sealer: seal_position set once, from NULL, outside the legacy chain; nothing else changes.
        IF OLD.seal_position IS NULL AND NEW.seal_position IS NOT NULL AND OLD.prev_hash IS NULL
           AND (to_jsonb(NEW) - 'seal_position') = (to_jsonb(OLD) - 'seal_position') THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'audit_auditevent is append-only: % is not allowed', TG_OP
        USING HINT = 'Audit events are written only through audit.record() and sealed once by audit_seal.';
END
$$;

CREATE OR REPLACE FUNCTION audit_chainhead_forward_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        IF current_setting('docuid.audit_allow_truncate', true) = 'on'
           AND current_database() LIKE 'test\\_%' THEN
            RETURN NULL;
        END IF;
    ELSIF TG_OP = 'UPDATE' THEN
        IF NEW.id = OLD.id AND NEW.last_event_id = OLD.last_event_id AND NEW.last_hash = OLD.last_hash
           AND NEW.last_batch_seq > OLD.last_batch_seq THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'audit_chainhead only moves forward: % is not allowed', TG_OP
        USING HINT = 'The head is moved only by the sealer, in the same transaction as its batch.';
END
$$;

CREATE OR REPLACE FUNCTION audit_batch_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        IF current_setting('docuid.audit_allow_truncate', true) = 'on'
           AND current_database() LIKE 'test\\_%' THEN
            RETURN NULL;
        END IF;
    END IF;
    RAISE EXCEPTION 'audit_batch is append-only: % is not allowed', TG_OP
        USING HINT = 'Sealed batches are written once by audit_seal and never changed.';
END
$$;
CREATE TRIGGER audit_batch_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_batch
    FOR EACH ROW EXECUTE FUNCTION audit_batch_append_only();
CREATE TRIGGER audit_batch_no_truncate
    BEFORE TRUNCATE ON audit_batch
    FOR EACH STATEMENT EXECUTE FUNCTION audit_batch_append_only();
"""

PG_BACKWARD = """
DROP TRIGGER IF EXISTS audit_batch_no_truncate ON audit_batch;
DROP TRIGGER IF EXISTS audit_batch_no_update_delete ON audit_batch;
DROP FUNCTION IF EXISTS audit_batch_append_only();
DROP TRIGGER IF EXISTS audit_auditevent_stamp ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_auditevent_stamp();
DROP TRIGGER IF EXISTS audit_auditevent_no_truncate ON audit_auditevent;
DROP TRIGGER IF EXISTS audit_auditevent_no_update_delete ON audit_auditevent;
DROP TRIGGER IF EXISTS audit_chainhead_no_truncate ON audit_chainhead;
DROP TRIGGER IF EXISTS audit_chainhead_forward_only ON audit_chainhead;
"""

_EVENT_COLUMNS = (
    "id", "time", "action", "outcome", "actor_id", "actor_repr", "target_type", "target_id", "target_repr",
    "request_id", "masked_ip", "user_agent", "data", "prev_hash", "hash", "seal_position", "txid",
)  # fmt: skip


def _unchanged(*except_columns: str) -> str:
    return " AND ".join(f"NEW.{c} IS OLD.{c}" for c in _EVENT_COLUMNS if c not in except_columns)


_SQLITE_EVENT_UPDATE = f"""
CREATE TRIGGER audit_auditevent_no_update BEFORE UPDATE ON audit_auditevent
WHEN NOT (
    (OLD.actor_id IS NOT NULL AND NEW.actor_id IS NULL AND {_unchanged("actor_id")})
    OR (OLD.seal_position IS NULL AND NEW.seal_position IS NOT NULL AND OLD.prev_hash IS NULL
        AND {_unchanged("seal_position")})
)
BEGIN SELECT RAISE(ABORT, 'audit_auditevent is append-only: UPDATE is not allowed'); END
"""

SQLITE_TRIGGERS = {
    "audit_auditevent_no_update": _SQLITE_EVENT_UPDATE,
    "audit_auditevent_no_delete": _0004.SQLITE_TRIGGERS["audit_auditevent_no_delete"],
    "audit_auditevent_no_sealed_insert": """
CREATE TRIGGER audit_auditevent_no_sealed_insert BEFORE INSERT ON audit_auditevent
WHEN NEW.seal_position IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'audit_auditevent: a new event cannot arrive sealed'); END
""",
    "audit_chainhead_forward_only": """
CREATE TRIGGER audit_chainhead_forward_only BEFORE UPDATE ON audit_chainhead
WHEN NOT (NEW.id = OLD.id AND NEW.last_event_id = OLD.last_event_id AND NEW.last_hash = OLD.last_hash
          AND NEW.last_batch_seq > OLD.last_batch_seq)
BEGIN SELECT RAISE(ABORT, 'audit_chainhead only moves forward: UPDATE is not allowed'); END
""",
    "audit_chainhead_no_delete": _0004.SQLITE_TRIGGERS["audit_chainhead_no_delete"],
    "audit_batch_no_update": """
CREATE TRIGGER audit_batch_no_update BEFORE UPDATE ON audit_batch
BEGIN SELECT RAISE(ABORT, 'audit_batch is append-only: UPDATE is not allowed'); END
""",
    "audit_batch_no_delete": """
CREATE TRIGGER audit_batch_no_delete BEFORE DELETE ON audit_batch
WHEN NOT docuid_audit_allow_truncate()
BEGIN SELECT RAISE(ABORT, 'audit_batch is append-only: DELETE is not allowed'); END
""",
}


def drop_sqlite_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for name in _0004.SQLITE_TRIGGERS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}", params=None)


def restore_sqlite_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for sql in _0004.SQLITE_TRIGGERS.values():
            schema_editor.execute(sql, params=None)


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FORWARD, params=None)
    elif vendor == "sqlite":
        for name, sql in SQLITE_TRIGGERS.items():
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}", params=None)
            schema_editor.execute(sql, params=None)


def uninstall(apps, schema_editor):
    """Back to 0004's triggers and append function (the seal columns are removed after this)."""
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_BACKWARD, params=None)
        schema_editor.execute(_0002.FORWARD, params=None)
        schema_editor.execute(_0004.PG_FORWARD, params=None)
    elif vendor == "sqlite":
        for name in SQLITE_TRIGGERS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}", params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0004_chain_head'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(drop_sqlite_triggers, restore_sqlite_triggers, elidable=False),
        migrations.CreateModel(
            name='AuditBatch',
            fields=[
                ('seq', models.BigIntegerField(editable=False, help_text='1, 2, 3, ... in sealing order.', primary_key=True, serialize=False)),
                ('first_position', models.BigIntegerField(editable=False, help_text="seal_position of the batch's first event.")),
                ('last_position', models.BigIntegerField(editable=False, help_text="seal_position of the batch's last event.")),
                ('event_count', models.PositiveIntegerField(editable=False)),
                ('merkle_root', models.CharField(editable=False, help_text='RFC 6962 Merkle root of the events.', max_length=64)),
                ('prev_hash', models.CharField(editable=False, help_text="Hash of the previous batch (the legacy chain's head for the first).", max_length=64, unique=True)),
                ('hash', models.CharField(editable=False, help_text="SHA-256 of this batch's fields.", max_length=64)),
                ('sealed_at', models.DateTimeField(editable=False)),
                ('horizon_txid', models.BigIntegerField(editable=False, help_text='PostgreSQL: events of transactions below this id were final when sealed (not hashed).', null=True)),
            ],
            options={
                'verbose_name': 'sealed audit batch',
                'verbose_name_plural': 'sealed audit batches',
                'db_table': 'audit_batch',
            },
        ),
        migrations.AddField(
            model_name='auditchainhead',
            name='last_batch_hash',
            field=models.CharField(blank=True, default='', editable=False, help_text='Hash of the newest batch.', max_length=64),
        ),
        migrations.AddField(
            model_name='auditchainhead',
            name='last_batch_seq',
            field=models.BigIntegerField(default=0, editable=False, help_text='Seq of the newest batch (0: none).'),
        ),
        migrations.AddField(
            model_name='auditevent',
            name='seal_position',
            field=models.BigIntegerField(editable=False, help_text='Position in the sealed trail, set once by the sealer; empty until sealed.', null=True, unique=True),
        ),
        migrations.AddField(
            model_name='auditevent',
            name='txid',
            field=models.BigIntegerField(editable=False, help_text='PostgreSQL: id of the inserting transaction (set by a trigger); the sealer waits for it to end.', null=True),
        ),
        migrations.AlterField(
            model_name='auditchainhead',
            name='last_event_id',
            field=models.BigIntegerField(editable=False, help_text="Id of the legacy chain's newest event (0: none)."),
        ),
        migrations.AlterField(
            model_name='auditchainhead',
            name='last_hash',
            field=models.CharField(editable=False, help_text="Hash of the legacy chain's newest event.", max_length=64),
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='hash',
            field=models.CharField(editable=False, help_text="SHA-256 of this event's fields (legacy events: and of the previous hash).", max_length=64),
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='prev_hash',
            field=models.CharField(editable=False, help_text='Legacy chain (before migration 0005): hash of the previous event. Empty for sealed events.', max_length=64, null=True, unique=True),
        ),
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(condition=models.Q(('prev_hash__isnull', True), ('seal_position__isnull', True)), fields=['id'], name='audit_unsealed_idx'),
        ),
        migrations.RunPython(install, uninstall, elidable=False),
    ]
