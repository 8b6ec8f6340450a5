"""deploy/metrics/alerts.yml: the ops alert rules, evaluated by vmalert on the recorded series of alerts_test.yml.

The rule evaluator is VictoriaMetrics' `vmalert-tool unittest` (Prometheus-style rule unit tests with
`input_series`), built once by the local provisioning (deploy/local/victoria.py) into `.local/victoria/bin`;
this test builds it when it is missing (about a minute, needs Go and the module proxy once).
"""

from __future__ import annotations

import subprocess

import yaml

from deploy.local.victoria import ALERT_RULES, METRICS_DIR, ensure_binaries

ALERT_TESTS = METRICS_DIR / "alerts_test.yml"
EXPECTED_ALERTS = {
    "ConsumerLagGrowing", "DatabaseConnectionsExhausted", "DeadLetter", "OutboxStale", "ServiceNotReady", "UsuryTableOutOfDate",
    "WebhookDeliveriesFailing",
}


def test_every_alert_has_a_unit_test() -> None:
    rules = {rule["alert"] for group in yaml.safe_load(ALERT_RULES.read_text())["groups"] for rule in group["rules"]}
    tested = {
        case["alertname"]
        for test in yaml.safe_load(ALERT_TESTS.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
    }
    assert rules == EXPECTED_ALERTS
    assert tested == rules


def test_the_rules_parse() -> None:
    vmalert = ensure_binaries() / "vmalert"
    done = subprocess.run([str(vmalert), f"-rule={ALERT_RULES}", "-dryRun"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_rules_fire_on_the_recorded_series() -> None:
    tool = ensure_binaries() / "vmalert-tool"
    done = subprocess.run(
        [str(tool), "unittest", "-disableAlertgroupLabel", f"-files={ALERT_TESTS}"],
        capture_output=True, text=True, timeout=120, cwd=METRICS_DIR,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout + done.stderr
