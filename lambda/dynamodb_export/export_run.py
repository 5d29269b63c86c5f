"""One invocation for one cut: its first run, a wave, or nothing to do.

- The **first run** of a cut (no state yet) closes the previous scheduled cut (what it
  never started is reported as missed) and takes over its history (each table's last
  export duration), scans every table (export_engine.Exporter.scan), writes the list
  of tables to start, longest expected export first (`longest_first`), then runs the
  first wave. A first run that died before saving that list is done again.
- A **wave** describes the in-flight exports that are due for a check (each when its
  table's history says it has probably ended), records how long finished ones took,
  starts tables into the free slots, and schedules the next wave (a continuation) if
  work remains.
- A **continuation** runs a wave if it is the one the state expects (same run id and
  wave number); a stale one (a retry, a superseded chain) does nothing.
- A **scheduled run** on a cut that already has state (the catch-up) is the safety net:
  it does nothing while the chain is on time, and takes the chain over when its
  continuation is more than CHAIN_GRACE late (or when continuations are off).

A cut's state is closed one day after its first run (or by the next scheduled cut's
first run, whichever comes first): no more starts, and the tables still waiting are
reported as missed, which the backlog alarm counts.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from continuation import (
    CEILING,
    CHAIN_GRACE,
    CHECK_SLACK,
    add_to_fit,
    create_continuation,
    fire_time,
    history_predicts,
    likely_durations,
    next_check_age,
    remember,
    schedule_name,
    trusted_ratios,
)
from export_config import AWS_EXPORT_LIMIT, Continuation, Scope, Settings
from export_engine import (
    Decision,
    Exporter,
    ExportRequest,
    Outcome,
    Table,
    export_requested_at,
    list_tables,
)
from state_store import PlanEntry, RunState, StateStore, Tracked, history_key

# LatestRestorableDateTime "is typically 5 minutes before the current time" (DynamoDB
# API reference, PointInTimeRecoveryDescription): a cut younger than this waits.
MIN_CUT_AGE = timedelta(minutes=10)
# Lambda stops a run after 15 minutes: a lease older than that belongs to a dead run.
LEASE = timedelta(minutes=16)
# A cut's tables must start within a day of its first run; the rest is missed.
DEADLINE = timedelta(days=1)
# An export that FAILED (asynchronously) is started again, with a new ClientToken,
# until it has failed this many times.
MAX_EXPORT_ATTEMPTS = 3
# LimitExceededException lowers the capacity by the exports it reveals for this long.
LIMIT_MEMORY = timedelta(hours=1)
# After LimitExceededException, or throttling that stopped starts, try again this soon.
RETRY_STOPPED = timedelta(minutes=5)
# Plan entries read beyond the free slots, for tables that start no export (no PITR).
PLAN_MARGIN = 256
# Missed tables named in the cut_closed log line (all are in per-table lines).
MISSED_NAMED = 50

LogFunction = Callable[[str, str, dict[str, Any]], None]


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


def _entry(request: ExportRequest, history: dict[str, float]) -> PlanEntry:
    return PlanEntry(
        table=request.table.name,
        export_type=request.export_type,
        attempt=request.attempt,
        from_time=request.from_time.isoformat() if request.from_time else None,
        reason=request.reason,
        expected=history.get(history_key(request.table.name, request.export_type)),
    )


def longest_first(entry: PlanEntry) -> tuple[bool, float, str]:
    """Plan order: tables without history, then the longest expected exports first.

    Longest-processing-time-first leaves the short exports for the end of the day, where
    they fill the slots the long ones free; started last, a long export would run on
    alone. A table without history may be long too, so it is not left for the end.
    """
    return (entry.expected is not None, -(entry.expected or 0.0), entry.table)


class CutRun:
    """The run of one invocation; see the module docstring."""

    def __init__(self, env: Environment) -> None:
        self.env = env
        self.report = RunReport(cut=env.cut, action="")
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
        )

    def _finish(self, action: str, state: RunState | None) -> RunReport:
        self.report.action = action
        if state is not None:
            self.report.pending = state.pending
            self.report.in_flight = len(state.in_flight)
            self.report.wave = state.wave
        return self.report

    # -- entry point -------------------------------------------------------------
    def run(self, continuation: Continuation | None, *, scheduled: bool) -> RunReport:
        """Do what this invocation should do for the cut; see the module docstring."""
        store = self.env.store
        state = store.load(self.env.cut)
        if continuation is not None:
            if (
                state is None
                or state.run_id != continuation.run_id
                or state.next_wave != continuation.wave
            ):
                # A retry of a wave that already ran, or a chain another run took over.
                return self._finish("stale", state)
            if state.closed:
                return self._finish("closed", state)
            if not store.acquire(state, self.env.owner, self._now, self._lease_until()):
                return self._finish("busy", state)
            return self._wave(state, None)
        if state is None:
            return self._first_run(scheduled=scheduled)
        if state.lease_until > self._now:
            return self._finish("busy", state)
        if not state.planned:
            # Its first run died before saving the plan, hence before starting anything:
            # without this, the empty state would pass for a complete cut.
            if not store.acquire(state, self.env.owner, self._now, self._lease_until()):
                return self._finish("busy", state)
            return self._plan(state)
        if state.closed:
            return self._finish("closed", state)
        if state.pending == 0 and not state.in_flight:
            return self._finish("complete", state)
        chain_due = state.next_due
        if (
            self.env.settings.continuations
            and chain_due is not None
            and self._now <= chain_due + CHAIN_GRACE.total_seconds()
        ):
            return self._finish("chain-active", state)
        if not store.acquire(state, self.env.owner, self._now, self._lease_until()):
            return self._finish("busy", state)
        return self._wave(state, None)

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
        return self._plan(state)

    def _plan(self, state: RunState) -> RunReport:
        """Close the previous cut, scan every table, save the plan, run the first wave."""
        env = self.env
        history = self._take_over_head(state)
        # The state table is the exporter's own: never listed, never exported.
        tables = [
            t for t in list_tables(env.client, env.scope) if t.name != env.settings.state_table
        ]
        if state.scheduled:
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
        # Saved before any export starts: a run that dies from here on is resumed, not redone.
        env.store.save(state, release=False)
        unknown = len(scan.unknown_in_flight)
        return self._wave(state, plan, fresh=True, unknown_in_flight=unknown)

    def _take_over_head(self, state: RunState) -> dict[str, float]:
        """Carry the previous cut's durations and history; a scheduled cut also closes it."""
        store = self.env.store
        head = store.head()
        previous = store.load(head) if head is not None and head < state.cut else None
        history: dict[str, float] = {}
        if previous is not None:
            if (
                state.scheduled
                and not previous.closed
                and store.acquire(previous, self.env.owner, self._now, self._lease_until())
            ):
                # A lease held right now means the previous chain is mid-wave: it
                # closes itself at its deadline instead.
                self._close(previous)
            # After closing: the exports it found finished count too.
            state.durations = list(previous.durations)
            state.ratios = list(previous.ratios)
            state.trust_history = history_predicts(previous.history_fit)
            if state.trust_history is None:
                state.trust_history = previous.trust_history
            history = store.read_history(previous)
        if state.scheduled:
            store.set_head(state.cut)
        return history

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

    def _check_in_flight(self, state: RunState, *, everything: bool) -> None:
        """Describe the exports due for a check and apply what they say."""
        horizon = self._now + CHECK_SLACK.total_seconds()
        waiting = state.pending > 0 and not everything
        due = [t for t in state.in_flight if everything or t.check_at <= horizon]
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
                failure = description.get("FailureCode") or description.get("FailureMessage")
                retry = item.attempt < MAX_EXPORT_ATTEMPTS and not everything
                decision = Decision(
                    item.table,
                    Outcome.FAILED,
                    reason=(
                        f"export FAILED: {failure}"
                        + (f"; starting attempt {item.attempt + 1}" if retry else "")
                    ),
                    export_arn=item.arn,
                    export_type=item.export_type,
                    status=str(status),
                )
                self._record(state, decision)
                if retry:
                    state.requeue.append(
                        PlanEntry(
                            item.table,
                            item.export_type,
                            attempt=item.attempt + 1,
                            expected=item.expected,
                        )
                    )
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
        """Start tables into `slots` free slots; True if starts were stopped early."""
        requeued = list(state.requeue)
        count = slots + PLAN_MARGIN
        if plan is not None:
            window = list(plan[state.cursor : state.cursor + count])
        else:
            window = self.env.store.read_plan(state, count)
        entries = requeued + window
        result = self._exporter.start([self._request(e) for e in entries], slots, cap_reason)
        attempted = len(result.decisions)
        requeue: list[PlanEntry] = []
        foreign = {t.arn: t for t in state.foreign}
        for entry, decision in zip(entries, result.decisions, strict=False):
            self.report.decisions.append(decision)
            if decision.outcome is Outcome.DEFERRED:
                requeue.append(entry)
                continue
            self._count(state, decision)
            if decision.status == "IN_PROGRESS" and decision.export_arn:
                # A ClientToken can hand back an export pass 1 counted as foreign.
                foreign.pop(decision.export_arn, None)
                state.in_flight.append(
                    self._track(decision, attempt=entry.attempt, expected=entry.expected)
                )
        state.foreign = list(foreign.values())
        requeue.extend(entries[attempted : len(requeued)])
        state.cursor += max(0, attempted - len(requeued))
        state.requeue = requeue
        if result.limit_exceeded:
            # More exports are in flight than we know of: assume the rest of the quota
            # is taken by them until LIMIT_MEMORY has passed.
            state.limit_foreign = max(
                0, AWS_EXPORT_LIMIT - len(state.in_flight) - len(state.foreign)
            )
            state.limit_until = (self.env.now + LIMIT_MEMORY).timestamp()
        return any(d.outcome is Outcome.DEFERRED for d in result.decisions)

    def _wave(
        self,
        state: RunState,
        plan: Sequence[PlanEntry] | None,
        *,
        fresh: bool = False,
        unknown_in_flight: int = 0,
    ) -> RunReport:
        env = self.env
        if self._now >= state.deadline:
            self._close(state)
            return self._finish("closed", state)
        if not fresh:
            self._check_in_flight(state, everything=False)
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
        elif state.pending and slots > 0:
            cap_reason = (
                f"concurrency cap: {env.settings.max_concurrent_exports - slots} exports in "
                f"flight, MAX_CONCURRENT_EXPORTS={env.settings.max_concurrent_exports}"
            )
            if unknown_in_flight:
                cap_reason += f" (in-flight count unknown for {unknown_in_flight} excluded tables)"
            stopped = self._start_pending(state, plan, slots, cap_reason)
        state.wave += 1
        self._plan_next(state, too_recent=too_recent, stopped=stopped)
        env.store.save(state, release=True)
        self._schedule(state)
        return self._finish("wave", state)

    def _plan_next(self, state: RunState, *, too_recent: bool, stopped: bool) -> None:
        """Next check of every tracked export, and when the chain runs next."""
        env = self.env
        waiting = state.pending > 0
        tracked = state.in_flight + (state.foreign if waiting else [])
        ratios = trusted_ratios(state.ratios, state.trust_history)
        for item in tracked:
            likely = likely_durations(item.expected, state.durations, ratios)
            item.check_at = item.started + next_check_age(item.alive_at, likely, busy=waiting)
        if not waiting and not state.in_flight:
            state.next_wave, state.next_due = None, None
            return
        wanted = [item.check_at for item in tracked]
        if waiting and too_recent:
            wanted.append((env.cut + MIN_CUT_AGE).timestamp())
        if waiting and stopped:
            wanted.append((env.now + RETRY_STOPPED).timestamp())
        when = fire_time(
            env.now,
            datetime.fromtimestamp(min(wanted), tz=UTC) if wanted else env.now + CEILING,
        )
        if env.settings.continuations:
            state.next_wave, state.next_due = state.wave + 1, when.timestamp()
        else:
            # The catch-up schedule is the only next run; it may come any time.
            state.next_wave, state.next_due = None, None

    def _schedule(self, state: RunState) -> None:
        env = self.env
        if state.next_wave is None or state.next_due is None or env.scheduler is None:
            return
        name = schedule_name(env.function_name, env.cut, state.next_wave)
        when = datetime.fromtimestamp(state.next_due, tz=UTC)
        continuation = Continuation(cut=env.cut, run_id=state.run_id, wave=state.next_wave)
        try:
            status = create_continuation(
                env.scheduler, env.settings, env.function_arn, name, when, continuation
            )
        # The state is saved: the catch-up schedule takes the chain over when this
        # continuation is CHAIN_GRACE late. The error still fails the invocation.
        except Exception as exc:  # noqa: BLE001
            status = "error"
            self.report.errors.append(f"CreateSchedule {name}: {type(exc).__name__}: {exc}")
        self.report.continuation = {
            "name": name,
            "at": when.isoformat(),
            "wave": state.next_wave,
            "status": status,
        }

    # -- closing -----------------------------------------------------------------
    def _close(self, state: RunState) -> None:
        """No more starts for this cut; report its in-flight outcomes and what it missed."""
        self._check_in_flight(state, everything=True)
        missed = [entry.table for entry in state.requeue]
        missed += [entry.table for entry in self.env.store.read_plan(state, state.pending)]
        for table in missed:
            decision = Decision(
                table, Outcome.MISSED, reason="not started within a day of the cut's first run"
            )
            self._log_decision(decision, state.cut)
            self._count(state, decision)
        still_running = [item.arn for item in state.in_flight]
        state.closed = True
        state.requeue, state.cursor = [], state.total
        state.next_wave, state.next_due = None, None
        self.env.store.save(state, release=True)
        closed = {
            "exportTime": state.cut.isoformat(),
            "missed": len(missed),
            "missedTables": missed[:MISSED_NAMED],
            "stillRunning": len(still_running),
        }
        self.env.log(
            "cut_closed",
            f"cut {state.cut.isoformat()} closed: {len(missed)} table(s) missed",
            closed,
        )
        self.report.closed.append(closed)
