"""One invocation: its cut's first run, a wave, or nothing; then the other open cuts.

- The **first run** of a cut (no state yet) takes over the history of the previous
  scheduled cut (each table's last export duration), reports the scheduled days that
  never got a state, scans every table (export_engine.Exporter.scan), writes the list of
  tables to start, longest expected export first (`longest_first`), then runs the first
  wave. A first run that died before saving that list is done again.
- A **wave** describes the in-flight exports that are due for a check (each when its
  table's history says it has probably ended), records how long finished ones took,
  starts tables into the free slots, and schedules the next wave (a continuation) if
  work remains. Before its first export call it saves its **intent**; a run that finds
  an intent nobody cleared checks those tables with ListExports before starting them.
- A **continuation** runs a wave if it is the one the state expects (same run id and
  wave number); a stale one (a retry, a superseded chain) does nothing.
- A **scheduled run** on a cut that already has state (the catch-up) is the safety net:
  it does nothing while the chain is on time, and takes the chain over when its
  continuation is more than CHAIN_GRACE late, could not be created, or when
  continuations are off. Every scheduled run then carries on the other **open** cuts
  the same way (`carry_on`), so no cut depends on its own chain alone.

A cut stays open until every table is exported, skipped or missed for good and every
export it started has ended: a day that cannot finish before the next one starts keeps
exporting, while its tables stay exportable (their PITR window). At its **day mark**
(DEADLINE after its first run) the tables still waiting are reported (`cut_overdue`, the
backlog alarm) and tables still failing are given up (missed). A cut closes with one
`cut_closed` line counting what it missed for good, which the backlog alarm also reads.
State that cannot be read is set aside and the cut rebuilt from ListExports.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from continuation import (
    CEILING,
    CHAIN_GRACE,
    CHECK_SLACK,
    FLOOR,
    add_to_fit,
    create_continuation,
    fire_time,
    history_predicts,
    likely_durations,
    next_check_age,
    remember,
    retry_delay,
    schedule_name,
    trusted_ratios,
)
from export_config import AWS_EXPORT_LIMIT, PITR_MAX_WINDOW, Continuation, Scope, Settings
from export_engine import (
    Decision,
    Exporter,
    ExportRequest,
    Outcome,
    Table,
    export_requested_at,
    is_selected,
    list_tables,
)
from state_store import (
    Head,
    PlanEntry,
    RunState,
    StateStore,
    StateUnreadableError,
    Tracked,
    history_key,
)

# LatestRestorableDateTime "is typically 5 minutes before the current time" (DynamoDB
# API reference, PointInTimeRecoveryDescription): a cut younger than this waits.
MIN_CUT_AGE = timedelta(minutes=10)
# Lambda stops a run after 15 minutes: a lease older than that belongs to a dead run.
LEASE = timedelta(minutes=16)
# A cut's day mark, after its first run: tables still waiting are reported (cut_overdue)
# and tables still failing are given up (missed). The rest keep going.
DEADLINE = timedelta(days=1)
# LimitExceededException lowers the capacity by the exports it reveals for this long.
LIMIT_MEMORY = timedelta(hours=1)
# After LimitExceededException, or throttling that stopped starts, try again this soon.
RETRY_STOPPED = timedelta(minutes=5)
# Plan entries read beyond the free slots, for tables that start no export (no PITR).
PLAN_MARGIN = 256
# Tables waiting in the run item (deferred, backing off): a wave stops taking plan
# entries once so many wait, so that with a wave's batch and its exports that FAILED
# the run item stays below 400 KB (tests/lambda/test_dynamodb_export_state.py).
REQUEUE_MAX = 200
# Missed tables named in the cut_closed and cut_overdue log lines (all are in per-table lines).
MISSED_NAMED = 50
# Scheduled days without state are looked for this far back (the longest PITR window).
MAX_GAP_DAYS = PITR_MAX_WINDOW.days


class LogFunction(Protocol):
    """handler.log_event: one JSON log line."""

    def __call__(
        self, event: str, message: str, fields: Mapping[str, Any], level: int = ...
    ) -> None:
        """Log `event` with `fields` as top-level keys."""


@dataclass
class Environment:
    """What one invocation works with."""

    settings: Settings
    scope: Scope
    cut: datetime
    now: datetime
    client: Any
    export_client: Any
    store: StateStore
    scheduler: Any | None
    function_name: str
    function_arn: str
    log: LogFunction
    owner: str = field(default_factory=lambda: uuid.uuid4().hex)
    # The current time when it is asked for (`now` is the invocation's start).
    clock: Callable[[], datetime] | None = None

    def current_time(self) -> datetime:
        """Now: the clock's time, or the invocation's start without a clock."""
        return self.clock() if self.clock is not None else self.now


@dataclass
class RunReport:
    """What this invocation did, for the summary and the totals log line."""

    cut: datetime
    action: str
    decisions: list[Decision] = field(default_factory=list)
    tables_seen: int = 0
    excluded: int = 0
    in_flight_before: int = 0
    capacity: int = 0
    pending: int = 0
    in_flight: int = 0
    wave: int | None = None
    continuation: dict[str, Any] | None = None
    closed: list[dict[str, Any]] = field(default_factory=list)
    # Failures to schedule the continuation: they fail the invocation.
    errors: list[str] = field(default_factory=list)
    # DescribeExport calls that failed: those exports are checked again next wave.
    warnings: list[str] = field(default_factory=list)
    # State set aside as unreadable: the invocation fails so that the errors alarm fires.
    alerts: list[str] = field(default_factory=list)
    # What this invocation did for other open cuts (scheduled runs only).
    others: list[RunReport] = field(default_factory=list)


def _entry(request: ExportRequest, history: dict[str, float]) -> PlanEntry:
    return PlanEntry(
        table=request.table.name,
        export_type=request.export_type,
        attempt=request.attempt,
        from_time=request.from_time.isoformat() if request.from_time else None,
        reason=request.reason,
        expected=history.get(history_key(request.table.name, request.export_type)),
        checked=request.checked,
    )


def longest_first(entry: PlanEntry) -> tuple[bool, float, str]:
    """Plan order: tables without history, then the longest expected exports first.

    Longest-processing-time-first leaves the short exports for the end of the day, where
    they fill the slots the long ones free; started last, a long export would run on
    alone. A table without history may be long too, so it is not left for the end.
    """
    return (entry.expected is not None, -(entry.expected or 0.0), entry.table)


class CutRun:
    """The run of one invocation for one cut; see the module docstring."""

    def __init__(self, env: Environment) -> None:
        self.env = env
        self.report = RunReport(cut=env.cut, action="")
        self._head: Head | None = None
        self._exporter = Exporter(
            env.client,
            env.settings,
            env.scope,
            env.cut,
            env.now,
            on_decision=self._log_decision,
            export_client=env.export_client,
        )

    # -- helpers -----------------------------------------------------------------
    @property
    def _now(self) -> float:
        return self.env.now.timestamp()

    def _lease_until(self) -> float:
        return (self.env.now + LEASE).timestamp()

    def _acquire(self, state: RunState) -> bool:
        return self.env.store.acquire(state, self.env.owner, self._now, self._lease_until())

    def _log_decision(self, decision: Decision, cut: datetime | None = None) -> None:
        fields = {
            "exportTime": (cut or self.env.cut).isoformat(),
            "decision": decision.outcome.value,
            **decision.as_dict(),
        }
        self.env.log("table", f"{decision.table}: {decision.outcome.value}", fields)

    def _request(self, entry: PlanEntry) -> ExportRequest:
        return ExportRequest(
            table=Table(entry.table, self.env.scope.table_arn(entry.table)),
            export_type=entry.export_type,
            attempt=entry.attempt,
            from_time=datetime.fromisoformat(entry.from_time) if entry.from_time else None,
            reason=entry.reason,
            checked=entry.checked,
        )

    def _finish(self, action: str, state: RunState | None) -> RunReport:
        self.report.action = action
        if state is not None:
            self.report.pending = state.pending
            self.report.in_flight = len(state.in_flight)
            self.report.wave = state.wave
        return self.report

    def _chain_active(self, state: RunState) -> bool:
        """The cut's own continuation is due soon (or not long ago): leave it alone."""
        due = state.next_due
        return (
            self.env.settings.continuations
            and due is not None
            and not state.unscheduled
            and self._now <= due + CHAIN_GRACE.total_seconds()
        )

    # -- entry points --------------------------------------------------------------
    def run(self, continuation: Continuation | None, *, scheduled: bool) -> RunReport:
        """Do what this invocation should do for its cut, then (scheduled runs) for the
        other open cuts; see the module docstring."""
        self._repairing(lambda: self._run_cut(continuation, scheduled=scheduled), scheduled)
        if scheduled:
            self._carry_on_open_cuts()
        return self.report

    def carry_on(self) -> RunReport:
        """For an open cut other than the event's: a wave unless its chain is on time."""
        return self._repairing(self._carry_on, scheduled=False)

    def _repairing(self, work: Callable[[], RunReport], scheduled: bool) -> RunReport:
        """`work`, or, when the cut's state turns out unreadable, its rebuild."""
        try:
            return work()
        except StateUnreadableError as error:
            state = self._set_aside(error, scheduled=scheduled)
            if state is None:
                return self._finish("busy", None)
            return self._plan(state)

    def _run_cut(self, continuation: Continuation | None, *, scheduled: bool) -> RunReport:
        store = self.env.store
        state = store.load(self.env.cut)
        if continuation is not None:
            if state is None or state.run_id != continuation.run_id:
                # A retry of a wave that already ran, or a chain another run took over.
                return self._finish("stale", state)
            if state.closed:
                return self._finish("closed", state)
            if state.next_wave != continuation.wave:
                if state.unscheduled and state.wave == continuation.wave:
                    # Lambda's retry of the wave whose continuation could not be created.
                    return self._resume(state)
                return self._finish("stale", state)
            if not self._acquire(state):
                return self._finish("busy", state)
            return self._wave(state, None)
        if state is None:
            return self._first_run(scheduled=scheduled)
        return self._continue(state)

    def _carry_on(self) -> RunReport:
        state = self.env.store.load(self.env.cut)
        if state is None or state.closed:
            # Closed, or its items have expired: nothing left to carry on.
            self.env.store.close_cut(self.env.cut)
            return self._finish("closed" if state else "gone", state)
        return self._continue(state)

    def _continue(self, state: RunState) -> RunReport:
        """A scheduled run on a cut with state: redo, resume, take over, or leave it."""
        if state.lease_until > self._now:
            return self._finish("busy", state)
        if not state.planned:
            # Its first run died before saving the plan, hence before starting anything:
            # without this, the empty state would pass for a complete cut.
            if not self._acquire(state):
                return self._finish("busy", state)
            return self._plan(state)
        if state.closed:
            return self._finish("closed", state)
        if self._chain_active(state):
            return self._finish("chain-active", state)
        if state.unscheduled:
            return self._resume(state)
        if not self._acquire(state):
            return self._finish("busy", state)
        return self._wave(state, None)

    def _resume(self, state: RunState) -> RunReport:
        """The chain's continuation could not be created: run the wave if due, else create it."""
        if not self._acquire(state):
            return self._finish("busy", state)
        due = state.next_due
        if due is None or due <= self.env.current_time().timestamp() + FLOOR.total_seconds():
            return self._wave(state, None)
        self._save_and_schedule(state)
        return self._finish("resumed", state)

    def _carry_on_open_cuts(self) -> None:
        """Every other open cut gets what a catch-up would give it; one's trouble is its own."""
        head = self._read_head()
        for cut in sorted(head.open - {self.env.cut}):
            other = CutRun(dataclasses.replace(self.env, cut=cut))
            try:
                other.carry_on()
            # One cut's trouble (AWS errors, a lost lease) must not stop the others; it
            # still fails the invocation, so the errors alarm sees it.
            except Exception as exc:  # noqa: BLE001
                other.report.errors.append(
                    f"carrying on cut {cut.isoformat()}: {type(exc).__name__}: {exc}"
                )
            self.report.others.append(other.report)

    # -- unreadable state --------------------------------------------------------
    def _set_aside(
        self, error: StateUnreadableError, *, scheduled: bool, hold: bool = True
    ) -> RunState | None:
        """Set the unreadable item aside, alarm, and replace it with a state to rebuild.

        The new state is unplanned: `_plan` rebuilds it from ListExports (an export of the
        cut found there is `existing`, so nothing is exported twice). With `hold`, this run
        keeps its lease to plan it at once. None if another run changed or rebuilt the
        item meanwhile.
        """
        env = self.env
        aside = env.store.set_aside(error, self._now)
        message = (
            f"state of cut {error.cut.isoformat()} is unreadable ({error.reason}); set aside "
            f"as {aside} and rebuilt from ListExports"
        )
        env.log(
            "state_unreadable",
            message,
            {"exportTime": error.cut.isoformat(), "reason": error.reason, "setAside": aside},
            logging.ERROR,
        )
        self.report.alerts.append(message)
        state = RunState(
            cut=error.cut,
            run_id=uuid.uuid4().hex[:16],
            created=self._now,
            deadline=(env.now + DEADLINE).timestamp(),
            scheduled=scheduled and error.cut == env.cut,
            planned=False,
        )
        owner, until = (env.owner, self._lease_until()) if hold else ("", 0.0)
        if not env.store.create(state, owner, until, replacing=error):
            return None
        env.store.open_cut(error.cut)
        return state

    def _read_head(self) -> Head:
        """The head item (once per run); a damaged one is rewritten, with an alarm."""
        if self._head is None:
            store = self.env.store
            head = store.head()
            if head.damaged is not None:
                message = f"state item 'head' is unreadable ({head.damaged}); rewritten"
                self.env.log(
                    "state_unreadable",
                    message,
                    {"key": "head", "reason": head.damaged},
                    logging.ERROR,
                )
                self.report.alerts.append(message)
                head = Head()
                store.reset_head(head)
            self._head = head
        return self._head

    # -- first run ---------------------------------------------------------------
    def _first_run(self, *, scheduled: bool) -> RunReport:
        env = self.env
        state = RunState(
            cut=env.cut,
            run_id=uuid.uuid4().hex[:16],
            created=self._now,
            deadline=(env.now + DEADLINE).timestamp(),
            scheduled=scheduled,
            planned=False,
        )
        if not env.store.create(state, env.owner, self._lease_until()):
            return self._finish("busy", None)
        # Open from now on: should this run die, any scheduled run redoes it.
        env.store.open_cut(env.cut)
        return self._plan(state)

    def _plan(self, state: RunState) -> RunReport:
        """Take over history, scan every table, save the plan, run the first wave."""
        env = self.env
        head = self._read_head() if state.scheduled else None
        history = self._take_over_head(state, head) if head is not None else {}
        # The state table is the exporter's own: never listed, never exported.
        tables = [
            t for t in list_tables(env.client, env.scope) if t.name != env.settings.state_table
        ]
        if head is not None:
            self._report_days_without_state(head, state, tables)
            # Carried to the next cut (a manual cut's is not: the next one reads the head).
            env.store.write_history(state, history, {t.name for t in tables})
        scan = self._exporter.scan(tables)
        self.report.decisions.extend(scan.decisions)
        self.report.tables_seen = scan.tables_seen
        self.report.excluded = scan.excluded
        self.report.in_flight_before = len(scan.in_flight_arns)
        ours: dict[str, Tracked] = {}
        for decision in scan.decisions:
            self._count(state, decision)
            if decision.status == "IN_PROGRESS" and decision.export_arn:
                key = history_key(decision.table, decision.export_type or "FULL_EXPORT")
                ours[decision.export_arn] = self._track(decision, expected=history.get(key))
        state.in_flight = list(ours.values())
        state.foreign = []
        for arn in scan.in_flight_arns:
            if arn not in ours:
                started = (export_requested_at(arn) or env.now).timestamp()
                state.foreign.append(
                    Tracked(arn=arn, table="", started=started, check_at=self._now)
                )
        # ListExports has just shown all of them in progress.
        for item in [*state.in_flight, *state.foreign]:
            item.alive_at = max(0.0, self._now - item.started)
        plan = sorted(
            (_entry(r, history) for r in scan.requests),
            # Without a history that predicts, the order matters no more than the name.
            key=longest_first if state.trust_history is not False else lambda e: e.table,
        )
        env.store.write_plan(state, plan)
        state.planned = True
        state.unchecked_until = 0
        # Saved before any export starts: a run that dies from here on is resumed, not redone.
        env.store.save(state, release=False)
        unknown = len(scan.unknown_in_flight)
        return self._wave(state, plan, fresh=True, unknown_in_flight=unknown)

    def _take_over_head(self, state: RunState, head: Head) -> dict[str, float]:
        """Carry the previous scheduled cut's durations and history, and move the head.

        The previous cut is only read: if it still has tables to start or exports to
        follow, it goes on (its chain, or any scheduled run carrying it on).
        """
        store = self.env.store
        history: dict[str, float] = {}
        previous = None
        if head.newest is not None and head.newest < state.cut:
            try:
                previous = store.load(head.newest)
            except StateUnreadableError as error:
                # No history from it. It is set aside and left unplanned and open: this
                # run (carrying on the open cuts) or the next rebuilds it from ListExports.
                if self._set_aside(error, scheduled=False, hold=False) is not None:
                    self._head = dataclasses.replace(head, open=head.open | {error.cut})
        if previous is not None:
            state.durations = list(previous.durations)
            state.ratios = list(previous.ratios)
            state.trust_history = history_predicts(previous.history_fit)
            if state.trust_history is None:
                state.trust_history = previous.trust_history
            history = store.read_history(previous)
        if state.scheduled:
            store.set_head(state.cut)
        return history

    def _report_days_without_state(
        self, head: Head, state: RunState, tables: Sequence[Table]
    ) -> None:
        """Scheduled days between the head and this cut that never got a state: all missed.

        A day whose every run failed before saving anything (state writes denied, the
        function throttled all day) leaves no trace but this: one cut_closed line per
        day, with every selected table missed, which the backlog alarm counts.
        """
        if head.newest is None or state.cut <= head.newest:
            return
        selected = sorted(t.name for t in tables if is_selected(t.name, self.env.settings))
        day = head.newest + timedelta(days=1)
        for _ in range(MAX_GAP_DAYS):
            if day >= state.cut:
                return
            try:
                exists = self.env.store.load(day) is not None
            except StateUnreadableError:
                exists = True  # it exists: its own runs set it aside and rebuild it
            if not exists:
                self._log_closed(
                    day,
                    missed=len(selected),
                    names=selected,
                    still_running=0,
                    extra={"neverStarted": True},
                )
            day += timedelta(days=1)

    # -- waves -------------------------------------------------------------------
    def _track(
        self, decision: Decision, attempt: int = 1, expected: float | None = None
    ) -> Tracked:
        started = (decision.started_at or self.env.now).timestamp()
        return Tracked(
            arn=str(decision.export_arn),
            table=decision.table,
            started=started,
            check_at=self._now,
            attempt=attempt,
            export_type=decision.export_type or "FULL_EXPORT",
            expected=expected,
        )

    @staticmethod
    def _count(state: RunState, decision: Decision) -> None:
        key = decision.outcome.value
        state.counts[key] = state.counts.get(key, 0) + 1
        if decision.outcome is Outcome.MISSED and len(state.missed_tables) < MISSED_NAMED:
            state.missed_tables.append(decision.table)

    def _describe(self, tracked: Sequence[Tracked]) -> dict[str, dict[str, Any] | str]:
        """DescribeExport for each, in parallel: its description, or an error text."""

        def one(item: Tracked) -> tuple[str, dict[str, Any] | str]:
            try:
                response = self.env.client.describe_export(ExportArn=item.arn)
            # One export's trouble must not stop the wave; it is checked again later.
            except Exception as exc:  # noqa: BLE001
                return item.arn, f"{type(exc).__name__}: {exc}"
            return item.arn, dict(response["ExportDescription"])

        if not tracked:
            return {}
        with ThreadPoolExecutor(
            max_workers=self.env.settings.worker_threads, thread_name_prefix="describe"
        ) as pool:
            return dict(pool.map(one, tracked))

    def _check_in_flight(self, state: RunState) -> None:
        """Describe the exports due for a check and apply what they say."""
        horizon = self._now + CHECK_SLACK.total_seconds()
        waiting = state.pending > 0
        due = [t for t in state.in_flight if t.check_at <= horizon]
        # Foreign exports matter only while tables wait for their slots.
        due_foreign = [t for t in state.foreign if waiting and t.check_at <= horizon]
        seen = self._describe([*due, *due_foreign])
        kept: list[Tracked] = []
        for item in state.in_flight:
            description = seen.get(item.arn)
            if not isinstance(description, dict):
                if isinstance(description, str):
                    self.report.warnings.append(f"DescribeExport {item.arn}: {description}")
                kept.append(item)
                continue
            status = description.get("ExportStatus")
            if status == "IN_PROGRESS":
                item.alive_at = self._now - item.started
                kept.append(item)
            elif status == "COMPLETED":
                decision = Decision(
                    item.table,
                    Outcome.COMPLETED,
                    export_arn=item.arn,
                    export_type=item.export_type,
                    status="COMPLETED",
                )
                self._measure(state, item, description)
                self._record(state, decision)
            else:
                self._export_failed(state, item, description)
        state.in_flight = kept
        foreign_kept = []
        for item in state.foreign:
            description = seen.get(item.arn)
            if isinstance(description, dict) and description.get("ExportStatus") != "IN_PROGRESS":
                continue
            if isinstance(description, dict):
                item.alive_at = self._now - item.started
            foreign_kept.append(item)
        state.foreign = foreign_kept

    def _export_failed(
        self, state: RunState, item: Tracked, description: Mapping[str, Any]
    ) -> None:
        """An export of the cut FAILED: reported (the errors alarm), retried until the day mark.

        A retry needs a new attempt number, hence a new ClientToken: the old one would
        hand back the failed export for 8 hours.
        """
        failure = description.get("FailureCode") or description.get("FailureMessage")
        retry = self._now < state.deadline
        reason = f"export FAILED: {failure}" + (
            f"; starting attempt {item.attempt + 1} after its back-off" if retry else ""
        )
        self._record(
            state,
            Decision(
                item.table,
                Outcome.FAILED,
                reason=reason,
                export_arn=item.arn,
                export_type=item.export_type,
                status=str(description.get("ExportStatus")),
            ),
        )
        if retry:
            state.requeue.append(
                PlanEntry(
                    item.table,
                    item.export_type,
                    attempt=item.attempt + 1,
                    expected=item.expected,
                    tries=item.attempt,
                    not_before=self._now + retry_delay(item.attempt, item.table),
                    failed=reason,
                )
            )
        else:
            self._record(
                state,
                Decision(
                    item.table,
                    Outcome.MISSED,
                    reason=f"export FAILED after the cut's day mark: {failure}",
                ),
            )

    @staticmethod
    def _measure(state: RunState, item: Tracked, description: Mapping[str, Any]) -> None:
        """How long a finished export took: the table's history, recent durations and ratios."""
        end, start = description.get("EndTime"), description.get("StartTime")
        if not isinstance(end, datetime) or not isinstance(start, datetime):
            return
        took = (end - start).total_seconds()
        state.durations = remember(state.durations, [took])
        state.measured[history_key(item.table, item.export_type)] = took
        if item.expected:
            state.ratios = remember(state.ratios, [took / item.expected])
            state.history_fit = add_to_fit(state.history_fit, took, item.expected)

    def _record(self, state: RunState, decision: Decision) -> None:
        self._log_decision(decision, state.cut)
        self.report.decisions.append(decision)
        self._count(state, decision)

    def _slots(self, state: RunState) -> int:
        unseen = state.limit_foreign if self._now < state.limit_until else 0
        return (
            self.env.settings.max_concurrent_exports
            - len(state.in_flight)
            - len(state.foreign)
            - unseen
        )

    def _start_pending(
        self, state: RunState, plan: Sequence[PlanEntry] | None, slots: int, cap_reason: str
    ) -> bool:
        """Start tables into `slots` free slots; True if tables wait for RETRY_STOPPED."""
        now = self._now
        due = [e for e in state.requeue if e.not_before <= now]
        backing_off = [e for e in state.requeue if e.not_before > now]
        room = max(0, REQUEUE_MAX - len(state.requeue))
        count = slots + PLAN_MARGIN if room else 0
        if plan is not None:
            window = [dataclasses.replace(e) for e in plan[state.cursor : state.cursor + count]]
        else:
            window = self.env.store.read_plan(state, count)
        for position, entry in enumerate(window, start=state.cursor):
            if position < state.unchecked_until:
                entry.checked = False
        entries = due + window
        if not entries:
            return False
        # The intent, saved before the first export call: a run that dies after starting
        # exports, or whose next state write is denied, leaves the next run knowing
        # which tables to check with ListExports before starting them again.
        state.intent_at, state.intent_until = now, state.cursor + len(window)
        self.env.store.save(state, release=False)
        result = self._exporter.start(
            [self._request(e) for e in entries], slots, cap_reason, max_deferred=room or None
        )
        attempted = len(result.outcomes)
        requeue: list[PlanEntry] = list(backing_off)
        foreign = {t.arn: t for t in state.foreign}
        for entry, (request, decision) in zip(entries, result.outcomes, strict=False):
            self.report.decisions.append(decision)
            entry = self._as_checked(entry, request)
            if decision.outcome is Outcome.DEFERRED:
                requeue.append(self._backed_off(entry, decision) if decision.backoff else entry)
                continue
            self._count(state, decision)
            if decision.outcome is Outcome.FAILED and decision.backoff:
                if decision.status == "FAILED":
                    # The ClientToken handed back a failed export: the retry needs a new one.
                    entry.attempt += 1
                entry.failed = decision.reason
                if now < state.deadline:
                    requeue.append(self._backed_off(entry, decision))
                else:
                    self._record(
                        state,
                        Decision(
                            entry.table,
                            Outcome.MISSED,
                            reason=f"still failing at the cut's day mark: {decision.reason}",
                        ),
                    )
                continue
            if decision.status == "IN_PROGRESS" and decision.export_arn:
                # A ClientToken (or a check) can hand back an export counted as foreign.
                foreign.pop(decision.export_arn, None)
                state.in_flight.append(
                    self._track(decision, attempt=request.attempt, expected=entry.expected)
                )
        state.foreign = list(foreign.values())
        if result.stalled:
            # An outage, not one table's trouble: the next starts wait as a whole.
            state.stalls += 1
            state.stall_until = now + retry_delay(state.stalls, state.cut.isoformat())
        elif attempted:
            state.stalls, state.stall_until = 0, 0.0
        requeue.extend(entries[attempted : len(due)])
        state.cursor += max(0, attempted - len(due))
        state.requeue = requeue
        state.intent_at = None
        if result.limit_exceeded:
            # More exports are in flight than we know of: assume the rest of the quota
            # is taken by them until LIMIT_MEMORY has passed.
            state.limit_foreign = max(
                0, AWS_EXPORT_LIMIT - len(state.in_flight) - len(state.foreign)
            )
            state.limit_until = (self.env.now + LIMIT_MEMORY).timestamp()
        # Tables deferred without a back-off of their own come back within RETRY_STOPPED;
        # after a stall the stalled table's back-off times the next wave instead.
        return not result.stalled and any(
            d.outcome is Outcome.DEFERRED and not d.backoff for d in result.decisions
        )

    @staticmethod
    def _as_checked(entry: PlanEntry, request: ExportRequest) -> PlanEntry:
        """`entry` as the engine left it: checked, with the type and window it planned."""
        return dataclasses.replace(
            entry,
            export_type=request.export_type,
            attempt=request.attempt,
            from_time=request.from_time.isoformat() if request.from_time else None,
            reason=request.reason,
            checked=request.checked,
        )

    def _backed_off(self, entry: PlanEntry, decision: Decision) -> PlanEntry:
        """`entry` with one more try counted and its next try after the table's back-off."""
        tries = entry.tries + 1
        return dataclasses.replace(
            entry, tries=tries, not_before=self._now + retry_delay(tries, entry.table)
        )

    def _distrust_intent(self, state: RunState) -> None:
        """A run saved its intent to start exports and never saved again: it may have
        started some. Those tables are checked with ListExports before they start."""
        for entry in state.requeue:
            entry.checked = False
        state.unchecked_until = max(state.unchecked_until, state.intent_until)
        state.intent_at = None
        self.report.warnings.append(
            "the run before saved its intent to start exports and did not finish: its "
            "tables are checked with ListExports before they start"
        )

    def _day_mark(self, state: RunState) -> None:
        """Once, at the cut's day mark: give up failing tables, report the ones still waiting."""
        if state.overdue or self._now < state.deadline:
            return
        state.overdue = True
        waiting = []
        for entry in state.requeue:
            if entry.failed is None:
                waiting.append(entry)
                continue
            self._record(
                state,
                Decision(
                    entry.table,
                    Outcome.MISSED,
                    reason=f"still failing at the cut's day mark: {entry.failed}",
                ),
            )
        state.requeue = waiting
        if not state.pending:
            return
        names = [e.table for e in state.requeue]
        names += [e.table for e in self.env.store.read_plan(state, MISSED_NAMED)]
        overdue = {
            "exportTime": state.cut.isoformat(),
            "missed": state.pending,
            "missedTables": names[:MISSED_NAMED],
            "stillRunning": len(state.in_flight),
        }
        self.env.log(
            "cut_overdue",
            f"cut {state.cut.isoformat()}: {state.pending} table(s) not started within a "
            "day; still exporting them",
            overdue,
        )

    def _beyond_pitr(self, state: RunState) -> None:
        """A cut older than every PITR window: nothing it still waits for can be exported."""
        if self.env.now < state.cut + PITR_MAX_WINDOW or not state.pending:
            return
        waiting = state.requeue + self.env.store.read_plan(state, state.pending)
        for entry in waiting:
            self._record(
                state,
                Decision(
                    entry.table,
                    Outcome.MISSED,
                    reason="the cut is older than every point-in-time recovery window (35 days)",
                ),
            )
        state.requeue, state.cursor = [], state.total

    def _wave(
        self,
        state: RunState,
        plan: Sequence[PlanEntry] | None,
        *,
        fresh: bool = False,
        unknown_in_flight: int = 0,
    ) -> RunReport:
        env = self.env
        if state.intent_at is not None:
            self._distrust_intent(state)
        if not fresh:
            self._check_in_flight(state)
        self._day_mark(state)
        self._beyond_pitr(state)
        slots = self._slots(state)
        self.report.capacity = max(0, slots)
        too_recent = env.now < env.cut + MIN_CUT_AGE
        stopped = False
        if state.pending and too_recent:
            env.log(
                "cut_not_restorable_yet",
                f"cut {env.cut.isoformat()} is newer than PITR allows; starts wait",
                {
                    "exportTime": env.cut.isoformat(),
                    "startsAt": (env.cut + MIN_CUT_AGE).isoformat(),
                    "pending": state.pending,
                },
            )
        elif state.pending and slots > 0 and self._now >= state.stall_until:
            cap_reason = (
                f"concurrency cap: {env.settings.max_concurrent_exports - slots} exports in "
                f"flight, MAX_CONCURRENT_EXPORTS={env.settings.max_concurrent_exports}"
            )
            if unknown_in_flight:
                cap_reason += f" (in-flight count unknown for {unknown_in_flight} excluded tables)"
            stopped = self._start_pending(state, plan, slots, cap_reason)
        state.wave += 1
        if not state.pending and not state.in_flight:
            self._close(state)
            return self._finish("wave", state)
        self._plan_next(state, too_recent=too_recent, stopped=stopped)
        self._save_and_schedule(state)
        return self._finish("wave", state)

    def _plan_next(self, state: RunState, *, too_recent: bool, stopped: bool) -> None:
        """Next check of every tracked export, and when the chain runs next."""
        env = self.env
        # The time it is now, not when the run began: a long run must not schedule its
        # next wave in the past.
        now = env.current_time()
        waiting = state.pending > 0
        tracked = state.in_flight + (state.foreign if waiting else [])
        ratios = trusted_ratios(state.ratios, state.trust_history)
        for item in tracked:
            likely = likely_durations(item.expected, state.durations, ratios)
            item.check_at = item.started + next_check_age(item.alive_at, likely, busy=waiting)
        wanted = [item.check_at for item in tracked]
        if waiting and too_recent:
            wanted.append((env.cut + MIN_CUT_AGE).timestamp())
        if waiting and stopped:
            wanted.append((env.now + RETRY_STOPPED).timestamp())
        backing_off = [e.not_before for e in state.requeue if e.not_before > self._now]
        if waiting and state.stall_until > self._now:
            # No start before the stall ends, whatever the tables' own back-off says.
            backing_off = [state.stall_until]
        if backing_off:
            # Tables backing off: the earliest of their next tries. (Tables due already
            # wait for a slot: the checks above and RETRY_STOPPED time those.)
            wanted.append(min(backing_off))
        when = fire_time(
            now,
            datetime.fromtimestamp(min(wanted), tz=UTC) if wanted else now + CEILING,
        )
        if env.settings.continuations:
            state.next_wave, state.next_due = state.wave + 1, when.timestamp()
        else:
            # The catch-up schedule is the only next run; it may come any time.
            state.next_wave, state.next_due = None, None

    def _save_and_schedule(self, state: RunState) -> None:
        """Save the state (releasing the lease), then create the next wave's continuation.

        A continuation that cannot be created is recorded in the state (`unscheduled`):
        Lambda's retry of this invocation, or the next scheduled run, resumes the chain.
        """
        env = self.env
        state.unscheduled = False
        env.store.save(state, release=True)
        if state.next_wave is None or state.next_due is None or env.scheduler is None:
            return
        name = schedule_name(env.function_name, env.cut, state.next_wave)
        # Computed when it is requested: at least a minute after now, whatever the run took.
        when = fire_time(env.current_time(), datetime.fromtimestamp(state.next_due, tz=UTC))
        continuation = Continuation(cut=env.cut, run_id=state.run_id, wave=state.next_wave)
        try:
            status = create_continuation(
                env.scheduler, env.settings, env.function_arn, name, when, continuation
            )
        # The error fails the invocation (ContinuationError), so Lambda retries it and the
        # errors alarm sees it; the state says the chain needs resuming.
        except Exception as exc:  # noqa: BLE001
            status = "error"
            self.report.errors.append(f"CreateSchedule {name}: {type(exc).__name__}: {exc}")
            if self._acquire(state):
                state.unscheduled = True
                env.store.save(state, release=True)
        self.report.continuation = {
            "name": name,
            "at": when.isoformat(),
            "wave": state.next_wave,
            "status": status,
        }

    # -- closing -----------------------------------------------------------------
    def _close(self, state: RunState) -> None:
        """Every table decided and every export ended: the cut's closing report."""
        state.closed = True
        state.requeue, state.cursor = [], state.total
        state.next_wave, state.next_due = None, None
        self.env.store.save(state, release=True)
        self.env.store.close_cut(state.cut)
        self._log_closed(
            state.cut,
            missed=state.counts.get(Outcome.MISSED.value, 0),
            names=state.missed_tables,
            still_running=0,
        )

    def _log_closed(
        self,
        cut: datetime,
        *,
        missed: int,
        names: Sequence[str],
        still_running: int,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        closed = {
            "exportTime": cut.isoformat(),
            "missed": missed,
            "missedTables": list(names[:MISSED_NAMED]),
            "stillRunning": still_running,
            **(extra or {}),
        }
        self.env.log(
            "cut_closed", f"cut {cut.isoformat()} closed: {missed} table(s) missed", closed
        )
        self.report.closed.append(closed)
