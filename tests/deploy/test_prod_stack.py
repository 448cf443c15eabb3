"""deploy/prod-stack.sh without bringing the stack up: the settings an `up` remembers for the next one.

docs/DEPLOYMENT.md's upgrade is a plain `make prod`. Without this, a stack first brought up with
DATABASE_URL=... (or a backup key, or backup replicas in DOCUID_PROD_EXTRA_ENV) would be rewritten
onto a new empty database, without its replicas, with a new backup key.
"""

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STACK = REPO / "deploy" / "prod-stack.sh"
CLEARED = ("DATABASE_URL", "REDIS_URL", "DOCUID_", "EMAIL_BACKEND")


def settings(state_dir: Path, **given: str) -> dict[str, str]:
    """`prod-stack.sh settings` with only `given` set: what the next `up` uses, as it remembers it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED)}
    env.update(given, DOCUID_PROD_DIR=str(state_dir))
    out = subprocess.run(
        ["bash", str(STACK), "settings"], env=env, capture_output=True, text=True, check=True, timeout=30
    ).stdout
    # Lines are NAME=<bash %q>; reading them back through bash is how the script does it.
    names = [line.split("=", 1)[0] for line in out.splitlines() if line and not line.startswith("#")]
    script = out + "".join(f'printf "%s\\0" "${name}"\n' for name in names)
    values = subprocess.run(["bash", "-c", script], capture_output=True, check=True, timeout=30).stdout
    return dict(zip(names, values.decode().split("\0")[:-1], strict=True))


def remember(state_dir: Path, **given: str) -> None:
    """What `up` does with the settings it was given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED)}
    env.update(given, DOCUID_PROD_DIR=str(state_dir))
    out = subprocess.run(["bash", str(STACK), "settings"], env=env, capture_output=True, text=True, check=True)
    (state_dir / "settings.sh").write_text(out.stdout)


def test_a_later_plain_up_keeps_the_database_backup_key_and_extra_settings_of_the_first(tmp_path):
    extra = "DOCUID_BACKUP_REPLICAS=dr\nDOCUID_BACKUP_REPLICA_DR_PATH=/mnt/dr backups"
    remember(
        tmp_path,
        DATABASE_URL="postgres://docuid:p%40ss@db.internal:5432/docuid",
        DOCUID_BACKUP_KEY="a-key-given-once",
        DOCUID_PROD_EXTRA_ENV=extra,
        DOCUID_PROD_HOST="docuid.example.com",
    )

    later = settings(tmp_path)

    assert later["DATABASE_URL"] == "postgres://docuid:p%40ss@db.internal:5432/docuid"
    assert later["DOCUID_BACKUP_KEY"] == "a-key-given-once"
    assert later["DOCUID_PROD_EXTRA_ENV"] == extra
    assert later["DOCUID_PROD_HOST"] == "docuid.example.com"


def test_a_setting_given_again_wins_over_the_remembered_one(tmp_path):
    remember(tmp_path, DATABASE_URL="postgres://postgres@127.0.0.1:5432/first")

    later = settings(tmp_path, DATABASE_URL="postgres://postgres@127.0.0.1:5432/second")

    assert later["DATABASE_URL"] == "postgres://postgres@127.0.0.1:5432/second"


def test_an_empty_setting_means_unset_and_keeps_the_remembered_one(tmp_path):
    remember(tmp_path, REDIS_URL="redis://cache:6379/2")

    assert settings(tmp_path, REDIS_URL="")["REDIS_URL"] == "redis://cache:6379/2"


def test_the_remembered_settings_are_read_as_values_never_run(tmp_path):
    marker = tmp_path / "ran"
    remember(tmp_path, DOCUID_PROD_EXTRA_ENV=f"X=$(touch {marker})`touch {marker}`")

    later = settings(tmp_path)

    assert later["DOCUID_PROD_EXTRA_ENV"] == f"X=$(touch {marker})`touch {marker}`"
    assert not marker.exists()
