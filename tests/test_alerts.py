"""Failed backup, copy and restore jobs, and exporter alarms, reach a person; successes do not."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from moto.events.models import EventPattern

from config import ConfigError, parse_stack_config
from config.loader import load_stack_file, project_values
from config.operations import DEFAULT_ALERT_STATES
from flows.evaluator import Request, evaluate_policy
from policies.alerts import (
    ROUTES,
    Route,
    alarm_rule,
    empty_fields,
    failure_rules,
    render_message,
)
from tests.support.cloudformation import Instance
from tools.offline import OfflineRun, run_program

ACCOUNT = "111122223333"
ORG = "o-a1b2c3d4e5"


def with_detail(event: dict[str, Any], **fields: Any) -> dict[str, Any]:
    changed = copy.deepcopy(event)
    changed["detail"].update(fields)
    return changed


# Shaped after AWS's sample events (AWS Backup Developer Guide, "Monitoring AWS Backup events
# using Amazon EventBridge"): backup and copy jobs carry detail.state, restore jobs
# detail.status.
BACKUP_JOB: dict[str, Any] = {
    "version": "0",
    "id": "dc0dd5a5-cc26-4c7b-8e8d-5a25c3f52b7e",
    "detail-type": "Backup Job State Change",
    "source": "aws.backup",
    "account": ACCOUNT,
    "time": "2026-11-27T14:10:00Z",
    "region": "ap-southeast-2",
    "resources": ["arn:aws:ec2:ap-southeast-2::snapshot/snap-0123"],
    "detail": {
        "backupJobId": "8a3e4c9f",
        "backupVaultName": "aws-backup-copy-prod-source",
        "resourceArn": "arn:aws:ec2:ap-southeast-2:111122223333:volume/vol-0123",
        "resourceType": "EBS",
        "state": "COMPLETED",
        "percentDone": "100.0",
    },
}
COPY_JOB: dict[str, Any] = {
    **BACKUP_JOB,
    "detail-type": "Copy Job State Change",
    "detail": {
        "copyJobId": "3f1b",
        "resourceArn": "arn:aws:rds:ap-southeast-2:111122223333:db:orders",
        "resourceType": "RDS",
        "sourceBackupVaultArn": "arn:aws:backup:ap-southeast-2:111122223333:backup-vault:src",
        "destinationBackupVaultArn": "arn:aws:backup:ap-southeast-2:555555555555:backup-vault:c",
        "state": "COMPLETED",
    },
}
# Restore jobs carry no resourceArn: the recovery point restored is resources[0].
RESTORE_JOB: dict[str, Any] = {
    **BACKUP_JOB,
    "detail-type": "Restore Job State Change",
    "resources": [
        "arn:aws:backup:ap-southeast-2:555555555555:recovery-point:d59196c8-8951-4c80-e71e"
    ],
    "detail": {
        "restoreJobId": "7c2",
        "resourceType": "EFS",
        "status": "COMPLETED",
        "percentDone": "100.0",
    },
}
# A restore test's job names its plan.
RESTORE_TEST_JOB: dict[str, Any] = {
    **RESTORE_JOB,
    "detail": {
        **RESTORE_JOB["detail"],
        "restoreJobId": "9e4",
        "resourceType": "DynamoDB",
        "restoreTestingPlanArn": (
            "arn:aws:backup:ap-southeast-2:555555555555:restore-testing-plan:"
            "aws_backup_copy_prod_restore_tests-1a2b3c"
        ),
    },
}
# AWS's sample of each failure, as the central route of its detail-type receives it.
FAILURES = {
    "backup-jobs": with_detail(BACKUP_JOB, state="FAILED", statusMessage="Access denied"),
    "copy-jobs": with_detail(COPY_JOB, state="FAILED", statusMessage="Access denied to key"),
    "restore-jobs": with_detail(RESTORE_JOB, status="FAILED", statusMessage="No default VPC"),
    "restore-tests": with_detail(
        RESTORE_TEST_JOB, status="FAILED", statusMessage="Table quota exceeded"
    ),
}
ALARM: dict[str, Any] = {
    **BACKUP_JOB,
    "source": "aws.cloudwatch",
    "detail-type": "CloudWatch Alarm State Change",
    "detail": {
        "alarmName": "aws-backup-copy-prod-dynamodb-export-backlog",
        "state": {"value": "ALARM", "reason": "Threshold Crossed: 1 datapoint [3.0]"},
        "previousState": {"value": "OK"},
    },
}


def matched_by(event: dict[str, Any], states: tuple[str, ...] = DEFAULT_ALERT_STATES) -> list[str]:
    """The forwarding rules (moto's EventBridge pattern matcher) that take `event`."""
    rules = [*failure_rules(states), alarm_rule("aws-backup-copy-prod-dynamodb-export-")]
    return [
        rule.name
        for rule in rules
        if EventPattern.load(json.dumps(rule.pattern)).matches_event(event)  # type: ignore[arg-type]
    ]


@pytest.mark.parametrize("state", ["FAILED", "ABORTED", "EXPIRED", "PARTIAL"])
def test_a_failed_backup_job_is_forwarded(state: str) -> None:
    assert matched_by(with_detail(BACKUP_JOB, state=state)) == ["backup-job-failed"]


@pytest.mark.parametrize("state", ["FAILED", "PARTIAL"])
def test_a_failed_copy_job_is_forwarded(state: str) -> None:
    assert matched_by(with_detail(COPY_JOB, state=state)) == ["copy-job-failed"]


@pytest.mark.parametrize("status", ["FAILED", "ABORTED"])
def test_a_failed_restore_job_is_forwarded_by_its_status(status: str) -> None:
    assert matched_by(with_detail(RESTORE_JOB, status=status)) == ["restore-job-failed"]


@pytest.mark.parametrize(
    "event",
    [
        BACKUP_JOB,
        COPY_JOB,
        RESTORE_JOB,
        with_detail(BACKUP_JOB, state="RUNNING"),
        with_detail(COPY_JOB, state="CREATED"),
        with_detail(RESTORE_JOB, status="PENDING"),
        # A restore job's field is `status`: a `state` on it means nothing.
        {**RESTORE_JOB, "detail": {"state": "FAILED", "status": "COMPLETED"}},
        with_detail(ALARM, state={"value": "OK"}),
        with_detail(ALARM, alarmName="someone-elses-alarm"),
    ],
    ids=[
        "backup-completed",
        "copy-completed",
        "restore-completed",
        "backup-running",
        "copy-created",
        "restore-pending",
        "restore-with-state-field",
        "alarm-ok",
        "other-alarm",
    ],
)
def test_successes_and_other_events_are_not_forwarded(event: dict[str, Any]) -> None:
    assert matched_by(event) == []


def test_only_the_configured_states_alert() -> None:
    assert matched_by(with_detail(BACKUP_JOB, state="ABORTED"), ("FAILED",)) == []
    assert matched_by(with_detail(BACKUP_JOB, state="FAILED"), ("FAILED",)) == ["backup-job-failed"]
    # EXPIRED exists for backup jobs only: copy and restore rules leave it out.
    [only] = failure_rules(("EXPIRED",))
    assert only.name == "backup-job-failed"


def test_an_exporter_alarm_going_into_alarm_is_forwarded() -> None:
    assert matched_by(ALARM) == ["exporter-alarm"]


def route(name: str) -> Route:
    [found] = [r for r in ROUTES if r.name == name]
    return found


def test_the_message_reads_well() -> None:
    failed = with_detail(COPY_JOB, state="FAILED", statusMessage="Access denied to key abc")

    assert render_message(route("copy-jobs"), failed) == (
        "AWS Backup: copy job 3f1b in account 111122223333, ap-southeast-2, at "
        "2026-11-27T14:10:00Z: FAILED. Resource: arn:aws:rds:ap-southeast-2:111122223333:db:"
        "orders (RDS). Reason: Access denied to key abc Details: aws backup describe-copy-job "
        "--copy-job-id 3f1b --region ap-southeast-2 (as account 111122223333). Jobs: "
        "https://ap-southeast-2.console.aws.amazon.com/backup/home?region=ap-southeast-2#/jobs"
    )
    assert "alarm aws-backup-copy-prod-dynamodb-export-backlog is ALARM" in render_message(
        route("exporter-alarms"), ALARM
    )
    for each in ROUTES:
        assert set(each.paths) == {name for name in each.paths if f"<{name}>" in each.template}


@pytest.mark.parametrize("name", sorted(FAILURES))
def test_each_route_renders_its_sample_failure_with_no_empty_field(name: str) -> None:
    """Job id, type, account, Region, resource (a restore's recovery point and type, a restore
    test's plan), state, status message and the console link: all filled, for AWS's sample."""
    message = render_message(route(name), FAILURES[name])

    assert empty_fields(route(name), FAILURES[name]) == []
    detail = FAILURES[name]["detail"]
    job_id = detail.get("backupJobId") or detail.get("copyJobId") or detail["restoreJobId"]
    assert f" {job_id} " in message and "FAILED" in message
    assert detail["statusMessage"] in message and f"({detail['resourceType']})" in message
    assert "console.aws.amazon.com/backup/home?region=ap-southeast-2#/jobs" in message
    if name.startswith("restore"):
        assert f"Recovery point: {FAILURES[name]['resources'][0]}" in message
        assert "Resource: ." not in message
    if name == "restore-tests":
        assert f"of restore testing plan {detail['restoreTestingPlanArn']}" in message


def test_every_forwarded_failure_takes_exactly_one_central_route() -> None:
    """One route (rule, target, input template) per detail-type; restores split by whether a
    restore testing plan started them (moto's EventBridge pattern matcher)."""

    def routes_taking(event: dict[str, Any]) -> list[str]:
        return [
            each.name
            for each in ROUTES
            if EventPattern.load(json.dumps(each.pattern)).matches_event(event)  # type: ignore[arg-type]
        ]

    for name, event in FAILURES.items():
        assert matched_by(event) != []  # a member account forwards it
        assert routes_taking(event) == [name]
    assert routes_taking(ALARM) == ["exporter-alarms"]


def test_the_hub_has_a_rule_and_target_per_route_on_the_one_topic(prod_run: OfflineRun) -> None:
    rules = {
        r.inputs["name"]: r
        for r in prod_run.of_type("aws:cloudwatch/eventRule:EventRule")
        if r.parent_name == "alerts"
    }
    targets = [
        t
        for t in prod_run.of_type("aws:cloudwatch/eventTarget:EventTarget")
        if t.parent_name == "alerts"
    ]
    [topic] = prod_run.of_type("aws:sns/topic:Topic")
    topic_arn = f"arn:aws:sns:ap-southeast-2:888888888888:{topic.name}"

    assert sorted(rules) == sorted(f"aws-backup-copy-prod-backup-alerts-{r.name}" for r in ROUTES)
    for each in ROUTES:
        rule = rules[f"aws-backup-copy-prod-backup-alerts-{each.name}"]
        assert json.loads(rule.inputs["eventPattern"]) == each.pattern
    assert len(targets) == len(ROUTES)
    for target in targets:
        assert target.inputs["arn"] == topic_arn
        transformer = target.inputs["inputTransformer"]
        [each] = [r for r in ROUTES if target.name.endswith(f"-{r.name}-target")]
        assert transformer["inputPaths"] == each.paths
        assert json.loads(transformer["inputTemplate"]) == each.template


def test_states_are_checked_against_the_job_states() -> None:
    project, encoded = load_stack_file("prod")
    raw = project_values(project, encoded)

    for states, expected in (
        (["FAILD"], "monitoring.states[0]: is not a known job state; did you mean 'FAILED'?"),
        (["COMPLETED"], "monitoring.states[0]: is a success, not a failure"),
    ):
        raw["monitoring"] = {"emails": ["a@example.com"], "states": states}
        with pytest.raises(ConfigError) as caught:
            parse_stack_config(project, raw)
        assert any(p.startswith(expected) for p in caught.value.problems), caught.value


def test_the_hub_gathers_alerts_in_the_delegated_administrators_account(
    prod_run: OfflineRun,
) -> None:
    [bus] = prod_run.of_type("aws:cloudwatch/eventBus:EventBus")
    [topic] = prod_run.of_type("aws:sns/topic:Topic")
    [subscription] = prod_run.of_type("aws:sns/topicSubscription:TopicSubscription")
    keys = [k for k in prod_run.of_type("aws:kms/key:Key") if k.parent_name == "alerts-topic"]

    assert (bus.account_id, bus.region) == ("888888888888", "ap-southeast-2")
    assert topic.account_id == "888888888888"
    assert topic.inputs["kmsMasterKeyId"].startswith("arn:aws:kms:ap-southeast-2:888888888888:key/")
    assert subscription.inputs["protocol"] == "email"
    assert subscription.inputs["endpoint"] == "backup-oncall@example.com"
    key_policy = json.loads(keys[0].inputs["policy"])
    events_use = [
        s for s in key_policy["Statement"] if s["Principal"] == {"Service": "events.amazonaws.com"}
    ]
    assert events_use[0]["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]


def test_every_member_account_and_vault_region_forwards_to_the_bus(prod_run: OfflineRun) -> None:
    [bus] = prod_run.of_type("aws:cloudwatch/eventBus:EventBus")
    bus_arn = f"arn:aws:events:ap-southeast-2:888888888888:event-bus/{bus.inputs['name']}"
    targets = [
        t
        for t in prod_run.of_type("aws:cloudwatch/eventTarget:EventTarget")
        if t.parent_name.startswith("alerts-")
    ]
    placed = {(t.account_id, t.region) for t in targets}

    assert placed == {
        ("444444444444", "ap-southeast-2"),
        ("444444444444", "ap-southeast-1"),
        ("666666666666", "ap-southeast-2"),
        # The destination's vault Regions: restore tests run there.
        ("555555555555", "ap-southeast-2"),
        ("555555555555", "ap-southeast-1"),
    }
    for target in targets:
        assert target.inputs["arn"] == bus_arn
        assert target.inputs["roleArn"].startswith(f"arn:aws:iam::{target.account_id}:role/")
    alarm_forwarders = {(t.account_id, t.region) for t in targets if "exporter-alarm" in t.name}
    # Exporters run in the source accounts only.
    assert alarm_forwarders == placed - {
        ("555555555555", "ap-southeast-2"),
        ("555555555555", "ap-southeast-1"),
    }


def test_the_bus_admits_the_stacks_accounts_of_the_organization_only(
    prod_run: OfflineRun,
) -> None:
    [policy] = prod_run.of_type("aws:cloudwatch/eventBusPolicy:EventBusPolicy")
    document = json.loads(policy.inputs["policy"])
    bus = document["Statement"][0]["Resource"]
    in_org = {"aws:PrincipalOrgID": ORG}

    def may_put(account: str, context: dict[str, Any]) -> bool:
        role = f"arn:aws:iam::{account}:role/aws-backup-copy-prod-alert-forwarder"
        return evaluate_policy(document, Request(role, "events:PutEvents", bus, context)).allowed

    for account in ("444444444444", "666666666666", "555555555555"):
        assert may_put(account, in_org)
    assert not may_put("123456789012", in_org)
    assert not may_put("444444444444", {"aws:PrincipalOrgID": "o-otherorgxxx"})


def test_stack_set_members_forward_through_their_template(sandbox_run: OfflineRun) -> None:
    template = json.loads(
        sandbox_run.of_type("aws:cloudformation/stackSet:StackSet")[0].inputs["templateBody"]
    )
    [bus] = sandbox_run.of_type("aws:cloudwatch/eventBus:EventBus")
    bus_arn = f"arn:aws:events:eu-west-1:888888888888:event-bus/{bus.inputs['name']}"

    for region, has_role in (("eu-west-1", True), ("eu-central-1", False)):
        resources = Instance(template, ACCOUNT, region).resources()
        rules = {
            r["Properties"]["Name"]: r["Properties"]
            for r in resources.values()
            if r["Type"] == "AWS::Events::Rule"
            and "Targets" in r["Properties"]
            and r["Properties"]["Targets"][0]["Id"] == "central-bus"
        }
        assert sorted(rules) == [
            "aws-backup-copy-sandbox-backup-job-failed",
            "aws-backup-copy-sandbox-copy-job-failed",
            "aws-backup-copy-sandbox-exporter-alarm",
            "aws-backup-copy-sandbox-restore-job-failed",
        ]
        for rule in rules.values():
            [target] = rule["Targets"]
            assert target["Arn"] == bus_arn
            assert target["RoleArn"] == (
                f"arn:aws:iam::{ACCOUNT}:role/aws-backup-copy-sandbox-alert-forwarder"
            )
        # IAM is global: the role comes with the primary Region's instance only.
        assert ("AlertForwarderRole" in resources) is has_role

    # Members under the targeted OUs may put events; others in the organization may not.
    [policy] = sandbox_run.of_type("aws:cloudwatch/eventBusPolicy:EventBusPolicy")
    document = json.loads(policy.inputs["policy"])
    role = f"arn:aws:iam::{ACCOUNT}:role/aws-backup-copy-sandbox-alert-forwarder"

    def context(ou: str) -> dict[str, Any]:
        return {"aws:PrincipalOrgID": ORG, "aws:PrincipalOrgPaths": [f"{ORG}/r-ab12/{ou}/"]}

    assert evaluate_policy(
        document, Request(role, "events:PutEvents", bus_arn, context("ou-ab12-sbx11111"))
    ).allowed
    assert not evaluate_policy(
        document, Request(role, "events:PutEvents", bus_arn, context("ou-ab12-prod7890"))
    ).allowed


def test_without_a_delegate_alerts_gather_in_the_destination_account() -> None:
    project, config = load_stack_file("dev")
    config[f"{project}:monitoring"] = json.dumps({"emails": ["dev-team@example.com"]})

    run = run_program("dev", config)

    [bus] = run.of_type("aws:cloudwatch/eventBus:EventBus")
    assert bus.account_id == "222222222222"


def _alert_topic_key_policy(run: OfflineRun) -> dict[str, Any]:
    [key] = [k for k in run.of_type("aws:kms/key:Key") if k.parent_name == "alerts-topic"]
    policy: dict[str, Any] = json.loads(key.inputs["policy"])
    return policy


@pytest.mark.parametrize("action", ["kms:GenerateDataKey", "kms:Decrypt"])
def test_eventbridge_can_encrypt_for_the_topic_with_the_context_it_sends(
    prod_run: OfflineRun, action: str
) -> None:
    """The hop central rule -> encrypted topic: EventBridge calls KMS as `events.amazonaws.com`.

    Amazon SNS Developer Guide, "Key management" → "Enable compatibility between event sources
    from AWS services and encrypted topics": `aws:SourceAccount`, `aws:SourceArn` and
    `aws:SourceOrgID` in the key policy are not supported for EventBridge to encrypted topics,
    so the request KMS evaluates carries none of them. A key statement that requires one is
    never satisfied and no alert is ever delivered.
    """
    policy = _alert_topic_key_policy(prod_run)
    key_arn = "arn:aws:kms:ap-southeast-2:888888888888:key/alerts"

    assert evaluate_policy(policy, Request("events.amazonaws.com", action, key_arn)).allowed
    # Nobody else gets the key through that statement: another service, another account.
    assert not evaluate_policy(policy, Request("sns.amazonaws.com", action, key_arn)).allowed
    assert not evaluate_policy(
        policy, Request("arn:aws:iam::444444444444:role/Anyone", action, key_arn)
    ).allowed


def test_eventbridge_can_publish_to_the_topic_with_the_context_it_sends(
    prod_run: OfflineRun,
) -> None:
    """The hop central rule -> topic: EventBridge calls `sns:Publish` as `events.amazonaws.com`.

    EventBridge User Guide, "Using resource-based policies for Amazon EventBridge" → "Amazon SNS
    permissions": "You can't use Condition blocks in Amazon SNS topic policies for
    EventBridge". The request is evaluated with no usable condition context, so the statement
    must allow it without one; any principal of another account is refused.
    """
    [policy] = prod_run.of_type("aws:sns/topicPolicy:TopicPolicy")
    [topic] = prod_run.of_type("aws:sns/topic:Topic")
    document = json.loads(policy.inputs["policy"])
    topic_arn = f"arn:aws:sns:ap-southeast-2:888888888888:{topic.name}"

    assert evaluate_policy(
        document, Request("events.amazonaws.com", "sns:Publish", topic_arn)
    ).allowed
    assert not evaluate_policy(
        document, Request("sns.amazonaws.com", "sns:Publish", topic_arn)
    ).allowed
    outsider = "arn:aws:iam::444444444444:role/Anyone"
    assert not evaluate_policy(document, Request(outsider, "sns:Publish", topic_arn)).allowed
    # The statement names this topic and nothing else.
    other_topic = topic_arn.replace(topic.name, "someone-elses-topic")
    assert not evaluate_policy(
        document, Request("events.amazonaws.com", "sns:Publish", other_topic)
    ).allowed


def test_central_rule_names_that_would_not_fit_say_so() -> None:
    """EventBridge rule names are at most 64 characters (PutRule): the longest environment
    the schema allows (20 characters) would make `<prefix>-backup-alerts-exporter-alarms` 66."""
    project, encoded = load_stack_file("prod")
    raw = project_values(project, encoded)
    raw["environment"] = "e" * 20

    with pytest.raises(ConfigError) as caught:
        parse_stack_config(project, raw)

    long_prefix = f"aws-backup-copy-{'e' * 20}"
    assert (
        f"monitoring: becomes the EventBridge rule name '{long_prefix}-backup-alerts-"
        "exporter-alarms' (66 characters), which allows at most 64: use a shorter environment"
    ) in caught.value.problems
    raw["environment"] = "e" * 18
    parse_stack_config(project, raw)  # 64: fits
