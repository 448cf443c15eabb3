"""Docs stay true: every environment variable the settings read is documented."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENV_CALL = re.compile(r"""env(?:_bool|_int|_list)?\(\s*["']([A-Z0-9_]+)["']""")


def settings_variables() -> set[str]:
    return set(ENV_CALL.findall((ROOT / "docuid" / "settings.py").read_text()))


def test_the_settings_read_variables_at_all():
    assert {"DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL"} <= settings_variables()


def test_every_setting_variable_is_in_the_readme_configuration_table():
    readme = (ROOT / "README.md").read_text()
    missing = sorted(v for v in settings_variables() if f"`{v}`" not in readme)
    assert missing == [], f"document these in README.md's Configuration table: {missing}"


def test_every_setting_variable_is_in_env_example():
    example = (ROOT / ".env.example").read_text()
    missing = sorted(v for v in settings_variables() if not re.search(rf"^{v}=", example, re.M))
    assert missing == [], f"add these to .env.example: {missing}"


def test_the_readme_starts_with_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    quick_start = readme.split("## Quick start", 1)[1].split("##", 1)[0]
    assert quick_start.index("make run") < quick_start.index("make test")
