"""End to end: host A of the two-host stack stopped -> a real Prometheus -> DocuIDAppHostDown pending, firing, resolved.

deploy/two-hosts/stack.py brings both hosts up (the fixture of tests/deploy/test_two_hosts.py,
with a stack of this module's own); a real Prometheus scrapes both hosts' /metrics every second
and evaluates a copy of the shipped rule whose `for: 5m` is cut to FOR (nothing else changes).
Host A's gunicorn is stopped (SIGTERM, as the failover test does): the alert goes pending for
host A only, fires FOR later, and resolves once the launcher has started host A again.
The times seen are printed. Marked slow and postgres like the other stack tests.
"""

import os
import signal
import time

import pytest
import requests
import yaml

from tests.deploy import stacks
from tests.deploy.test_alerting_e2e import RULES
from tests.deploy.test_prod_drill import wait_for
from tests.deploy.test_two_hosts import stack  # noqa: F401  (the two-host stack, one for this module)

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(300)]

ALERT = "DocuIDAppHostDown"
FOR = "5s"


def _rules() -> str:
    """The shipped rule, `for:` cut to FOR."""
    rules = yaml.safe_load(RULES.read_text())
    kept = [rule for group in rules["groups"] for rule in group["rules"] if rule.get("alert") == ALERT]
    assert len(kept) == 1, f"{ALERT} is not in rules.yml once"
    assert kept[0]["for"] == "5m", "the shipped rule's `for:` changed: update the docs and this test"
    kept[0]["for"] = FOR
    return yaml.safe_dump({"groups": [{"name": "docuid.alerts", "rules": kept}]}, sort_keys=False)


def _alerts(port: int) -> dict[str, str]:
    """instance -> state (pending, firing) of every active DocuIDAppHostDown."""
    alerts = requests.get(f"http://127.0.0.1:{port}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
    return {a["labels"]["instance"]: a["state"] for a in alerts if a["labels"]["alertname"] == ALERT}


def _up(port: int) -> dict[str, float]:
    query = {"query": 'up{job="docuid"}'}
    result = requests.get(f"http://127.0.0.1:{port}/api/v1/query", params=query, timeout=5).json()["data"]["result"]
    return {r["metric"]["instance"]: float(r["value"][1]) for r in result}


def _ended(pid: int) -> bool:
    """Exited and reaped by the launcher."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_host_a_stopped_fires_the_alert_for_host_a_only_and_its_return_resolves_it(stack, tmp_path, capsys):  # noqa: F811
    hosts = {h: stack.info["hosts"][h]["url"].removeprefix("http://") for h in ("a", "b")}
    with stacks.prometheus(tmp_path, _rules(), {"docuid": list(hosts.values())}) as port:
        wait_for("both hosts scraped up", lambda: _up(port) == dict.fromkeys(hosts.values(), 1.0), 30, interval=0.5)
        assert _alerts(port) == {}

        master = int((stack.dir / "run" / "host-a.pid").read_text())
        stopped = time.monotonic()
        os.kill(master, signal.SIGTERM)  # gunicorn's graceful stop
        wait_for("host A pending", lambda: _alerts(port) == {hosts["a"]: "pending"}, 30, interval=0.25)
        pending = time.monotonic() - stopped
        wait_for("host A firing", lambda: _alerts(port) == {hosts["a"]: "firing"}, 60, interval=0.25)
        firing = time.monotonic() - stopped
        # Host B answered throughout: it never had an alert of its own.
        assert _up(port)[hosts["b"]] == 1.0

        # The launcher starts what has ended again on SIGHUP, once host A's gunicorn has gone.
        wait_for("host A's gunicorn to end", lambda: _ended(master), 60, interval=0.2)
        restarted = time.monotonic()
        os.kill(int((stack.dir / "run" / "launcher.pid").read_text()), signal.SIGHUP)
        wait_for("the alert to resolve", lambda: _alerts(port) == {}, 120, interval=0.25)
        resolved = time.monotonic() - restarted
    with capsys.disabled():  # shown in CI's output, pass or fail
        print(
            f"\n  {ALERT} (for: {FOR}, 1 s scrape and evaluation): pending {pending:.1f} s after host A stopped,"
            f" firing {firing:.1f} s; resolved {resolved:.1f} s after host A was started again"
        )
