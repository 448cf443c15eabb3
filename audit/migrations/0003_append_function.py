"""On PostgreSQL, appending to the chain is one server-side call: `audit_append_event`.

It takes the chain's advisory lock, reads the head, stamps the time, hashes and
inserts, so no client round trip happens while the lock is held (before: BEGIN,
lock, read the head, insert, COMMIT — five round trips, three of them under the
lock that every writer of the trail waits for). The client serialises the event
around the two values only the database knows (audit.chain.canonical_parts); the
function splices in the head's hash and the time and hashes exactly what
audit.chain.compute_hash hashes. Under READ COMMITTED each statement of a VOLATILE
plpgsql function takes a fresh snapshot, so the head is read after the lock is held;
the function refuses any other isolation level.

The time is taken under the lock, as before, so time order equals chain order.
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION audit_append_event(
    lock_key bigint, head_part text, mid_part text, tail_part text,
    p_action varchar, p_outcome varchar, p_actor_id bigint, p_actor_repr varchar,
    p_target_type varchar, p_target_id varchar, p_target_repr varchar,
    p_request_id varchar, p_masked_ip varchar, p_user_agent varchar, p_data jsonb
) RETURNS TABLE (event_id bigint, event_time timestamptz, event_prev_hash varchar, event_hash varchar)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_prev varchar;
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
    SELECT e.hash INTO v_prev FROM audit_auditevent e ORDER BY e.id DESC LIMIT 1;
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
    RETURN QUERY SELECT v_id, v_time, v_prev, v_hash;
END
$$;
"""

BACKWARD = "DROP FUNCTION IF EXISTS audit_append_event(bigint, text, text, text, varchar, varchar, bigint, varchar, varchar, varchar, varchar, varchar, varchar, varchar, jsonb);"


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only_trigger")]

    operations = [migrations.RunPython(install, uninstall, elidable=False)]
