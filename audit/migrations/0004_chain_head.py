"""The chain's head, kept beside it, and append-only triggers on SQLite too (issue #12 F12).

Deleting the newest events left a chain that still linked up, so `audit_verify`
said OK. Now every append also moves `audit_chainhead` (one row: the newest
event's id and hash) in the same transaction, and `audit_verify` checks that
the chain still reaches it. The head only moves forward: a trigger refuses any
UPDATE that does not advance it, any DELETE, and TRUNCATE (with the test
runner's escape hatch of migration 0002).

On PostgreSQL, `audit_append_event` (migration 0003, same signature) now reads
the previous hash from the head row (a primary-key lookup instead of the newest
event) and moves the head after its INSERT: still one call, no extra round trip.
Without a head row (a test database emptied by TRUNCATE) it starts from the
newest event and creates the row.

On SQLite (the embedded default) triggers refuse UPDATE and DELETE on the events
as PostgreSQL's do (the one UPDATE allowed sets actor_id to NULL), and guard the
head the same way. DELETE is allowed only while the function
`docuid_audit_allow_truncate()` says so: the audit app registers it on every
SQLite connection (audit.apps), true only in a Django test database with the
test-only setting DOCUID_AUDIT_ALLOW_TRUNCATE (the test runner empties every
table between transactional tests). A client without the function (the sqlite3
shell) cannot DELETE at all. Trap: Django's SQLite schema editor rebuilds a
table to alter it, which drops its triggers: a later migration altering these
tables must recreate them (tests/audit/test_chain_head.py checks they exist).
"""

from importlib import import_module

from django.db import migrations, models

PG_FORWARD = """
CREATE OR REPLACE FUNCTION audit_chainhead_forward_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        IF current_setting('docuid.audit_allow_truncate', true) = 'on'
           AND current_database() LIKE 'test\\_%' THEN
            RETURN NULL;
        END IF;
    ELSIF TG_OP = 'UPDATE' THEN
        IF NEW.id = OLD.id AND NEW.last_event_id > OLD.last_event_id THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'audit_chainhead only moves forward: % is not allowed', TG_OP
        USING HINT = 'The head is moved only by audit_append_event, in the same transaction as the event.';
END
$$;
CREATE TRIGGER audit_chainhead_forward_only
    BEFORE UPDATE OR DELETE ON audit_chainhead
    FOR EACH ROW EXECUTE FUNCTION audit_chainhead_forward_only();
CREATE TRIGGER audit_chainhead_no_truncate
    BEFORE TRUNCATE ON audit_chainhead
    FOR EACH STATEMENT EXECUTE FUNCTION audit_chainhead_forward_only();

CREATE OR REPLACE FUNCTION audit_append_event(
    lock_key bigint, head_part text, mid_part text, tail_part text,
    p_action varchar, p_outcome varchar, p_actor_id bigint, p_actor_repr varchar,
    p_target_type varchar, p_target_id varchar, p_target_repr varchar,
    p_request_id varchar, p_masked_ip varchar, p_user_agent varchar, p_data jsonb
) RETURNS TABLE (event_id bigint, event_time timestamptz, event_prev_hash varchar, event_hash varchar)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_prev varchar;
    v_has_head boolean;
    v_time timestamptz;
    v_hash varchar;
    v_id bigint;
BEGIN
    -- The head must be read with a snapshot taken after the lock: only READ COMMITTED
    -- gives each statement a fresh one.
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'audit_append_event needs READ COMMITTED, not %', current_setting('transaction_isolation');
    END IF;
    PERFORM pg_advisory_xact_lock(lock_key);
    SELECT h.last_hash INTO v_prev FROM audit_chainhead h WHERE h.id = 1;
    v_has_head := FOUND;
    IF NOT v_has_head THEN
        SELECT e.hash INTO v_prev FROM audit_auditevent e ORDER BY e.id DESC LIMIT 1;
    END IF;
    v_prev := coalesce(v_prev, repeat('0', 64));
    v_time := date_trunc('microseconds', clock_timestamp());
    v_hash := encode(sha256(convert_to(
        v_prev || head_part || v_prev || mid_part
        || to_char(v_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') || '+00:00' || tail_part,
        'UTF8')), 'hex');
    INSERT INTO audit_auditevent (
        "time", action, outcome, actor_id, actor_repr, target_type, target_id, target_repr,
        request_id, masked_ip, user_agent, data, prev_hash, hash
    ) VALUES (
        v_time, p_action, p_outcome, p_actor_id, p_actor_repr, p_target_type, p_target_id, p_target_repr,
        p_request_id, p_masked_ip, p_user_agent, p_data, v_prev, v_hash
    ) RETURNING id INTO v_id;
    IF v_has_head THEN
        UPDATE audit_chainhead SET last_event_id = v_id, last_hash = v_hash WHERE id = 1;
    ELSE
        INSERT INTO audit_chainhead (id, last_event_id, last_hash) VALUES (1, v_id, v_hash);
    END IF;
    RETURN QUERY SELECT v_id, v_time, v_prev, v_hash;
END
$$;
"""

# Migration 0003's function, restored when going back.
PG_BACKWARD = """
DROP TRIGGER IF EXISTS audit_chainhead_no_truncate ON audit_chainhead;
DROP TRIGGER IF EXISTS audit_chainhead_forward_only ON audit_chainhead;
DROP FUNCTION IF EXISTS audit_chainhead_forward_only();
"""

# Every column but actor_id must stay as it was (the hashed fields, the id and the hashes).
_UNCHANGED = " AND ".join(
    f"NEW.{column} IS OLD.{column}"
    for column in (
        "id", "time", "action", "outcome", "actor_repr", "target_type", "target_id", "target_repr",
        "request_id", "masked_ip", "user_agent", "data", "prev_hash", "hash",
    )
)  # fmt: skip

SQLITE_TRIGGERS = {
    "audit_auditevent_no_update": f"""
CREATE TRIGGER audit_auditevent_no_update BEFORE UPDATE ON audit_auditevent
WHEN NOT (OLD.actor_id IS NOT NULL AND NEW.actor_id IS NULL AND {_UNCHANGED})
BEGIN SELECT RAISE(ABORT, 'audit_auditevent is append-only: UPDATE is not allowed'); END
""",
    "audit_auditevent_no_delete": """
CREATE TRIGGER audit_auditevent_no_delete BEFORE DELETE ON audit_auditevent
WHEN NOT docuid_audit_allow_truncate()
BEGIN SELECT RAISE(ABORT, 'audit_auditevent is append-only: DELETE is not allowed'); END
""",
    "audit_chainhead_forward_only": """
CREATE TRIGGER audit_chainhead_forward_only BEFORE UPDATE ON audit_chainhead
WHEN NOT (NEW.id = OLD.id AND NEW.last_event_id > OLD.last_event_id)
BEGIN SELECT RAISE(ABORT, 'audit_chainhead only moves forward: UPDATE is not allowed'); END
""",
    "audit_chainhead_no_delete": """
CREATE TRIGGER audit_chainhead_no_delete BEFORE DELETE ON audit_chainhead
WHEN NOT docuid_audit_allow_truncate()
BEGIN SELECT RAISE(ABORT, 'audit_chainhead only moves forward: DELETE is not allowed'); END
""",
}


def install(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, hash FROM audit_auditevent ORDER BY id DESC LIMIT 1")
        newest = cursor.fetchone()
        cursor.execute(
            "INSERT INTO audit_chainhead (id, last_event_id, last_hash) VALUES (1, %s, %s)",
            [newest[0], newest[1]] if newest else [0, "0" * 64],
        )
    if connection.vendor == "postgresql":
        schema_editor.execute(PG_FORWARD, params=None)
    elif connection.vendor == "sqlite":
        for sql in SQLITE_TRIGGERS.values():
            schema_editor.execute(sql, params=None)


def uninstall(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        schema_editor.execute(PG_BACKWARD, params=None)
        schema_editor.execute(import_module("audit.migrations.0003_append_function").FORWARD, params=None)
    elif connection.vendor == "sqlite":
        for name in SQLITE_TRIGGERS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}", params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_append_function")]

    operations = [
        migrations.CreateModel(
            name="AuditChainHead",
            fields=[
                ("id", models.PositiveSmallIntegerField(default=1, editable=False, primary_key=True, serialize=False)),
                (
                    "last_event_id",
                    models.BigIntegerField(editable=False, help_text="Id of the newest event (0: none yet)."),
                ),
                ("last_hash", models.CharField(editable=False, help_text="Hash of the newest event.", max_length=64)),
            ],
            options={
                "db_table": "audit_chainhead",
                "verbose_name": "audit chain head",
                "constraints": [
                    models.CheckConstraint(condition=models.Q(("id", 1)), name="audit_chainhead_single_row")
                ],
            },
        ),
        migrations.RunPython(install, uninstall, elidable=False),
    ]
