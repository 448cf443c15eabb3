"""On PostgreSQL, the database itself refuses to change or remove audit events.

The ORM guards (AuditEventQuerySet, AuditEvent.save/delete) stop our own code;
this trigger also stops raw SQL, other clients and the Django collector. Two
exceptions, both deliberate:

- UPDATE that only sets actor_id to NULL: deleting a user applies the FK's
  SET_NULL; actor_repr keeps who it was and actor_id is not in the hash.
- TRUNCATE when the session sets docuid.audit_allow_truncate=on: the test
  runner empties every table between transactional tests. Only honoured in a
  database whose name starts with test_ (Django's test databases), so a
  production session cannot switch it on. (A role that can SET it could also DISABLE the trigger as the
  table's owner; keeping the trail from a compromised owner needs a separate
  owner role, see OPERATIONS_GUIDE.)
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION audit_auditevent_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        IF current_setting('docuid.audit_allow_truncate', true) = 'on'
           AND current_database() LIKE 'test\\_%' THEN
            RETURN NULL;
        END IF;
    ELSIF TG_OP = 'UPDATE' THEN
        IF OLD.actor_id IS NOT NULL AND NEW.actor_id IS NULL
           AND (to_jsonb(NEW) - 'actor_id') = (to_jsonb(OLD) - 'actor_id') THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'audit_auditevent is append-only: % is not allowed', TG_OP
        USING HINT = 'Audit events are written only through audit.record() and never changed.';
END
$$;
CREATE TRIGGER audit_auditevent_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_auditevent_append_only();
CREATE TRIGGER audit_auditevent_no_truncate
    BEFORE TRUNCATE ON audit_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION audit_auditevent_append_only();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS audit_auditevent_no_truncate ON audit_auditevent;
DROP TRIGGER IF EXISTS audit_auditevent_no_update_delete ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_auditevent_append_only();
"""


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunPython(install, uninstall, elidable=False)]
