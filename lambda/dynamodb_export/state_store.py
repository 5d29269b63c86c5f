"""Run state of one cut, kept in a DynamoDB table of the exporter's own account.

One item per cut (`cut#<ISO cut>`) holds what a continuation needs: our in-flight
exports, the known foreign ones, where the run is in the list of tables still to start,
recent export durations. The list itself is written once, by the first run of the cut,
in chunk items (`cut#<ISO cut>#plan#<n>`) of at most PLAN_CHUNK entries, so no item
nears DynamoDB's 400 KB limit whatever the table count. A `head` item names the newest
scheduled cut, so the first run of the next one can close it (report what it missed).

Each table's export duration is remembered from day to day (the **history**, by table
and export type), so that a cut can start its longest exports first and look at each
one about when it should end. A scheduled cut's first run writes the history it starts
from in chunk items (`cut#<ISO cut>#history#<n>`, HISTORY_CHUNK entries each); the
durations measured during the cut are buffered in the run item and moved out, once
there are MEASURED_CHUNK of them, to items of their own (`cut#<ISO cut>#took#<n>`).
The next cut's first run reads all three back (`read_history`). Every one of these items
is bounded by its entry count, and the run item by the buffer's: nothing grows with the
table count except the number of chunk items.

Writes are conditional on the item's `version`, and a run holds a lease (owner and
expiry) while it works on a cut: an overlapping run finds the lease and leaves the cut
alone instead of starting exports twice. Before a run starts exports it saves its
**intent** (which tables it is about to start); a run that finds an intent its writer
never cleared (killed, or its state write denied) checks those tables with ListExports
before starting them again.

A run item this version cannot read (corrupt, written by another version, its plan
half-written) raises StateUnreadableError: the run sets it aside (`set_aside`, a copy
under `<key>#unreadable#<time>`) and rebuilds the cut from ListExports (`create` with
`replacing`), so that one bad item never blocks a cut, let alone later ones. The `head`
item also lists the cuts still **open** (tables to start or exports to follow), so that
any scheduled run can carry on a cut whose chain was lost.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

DynamoDBClient = Any  # boto3 ships no type stubs.

# 1,000 entries stay under DynamoDB's 400 KB item size (Developer Guide, "Service,
# account, and table quotas": item size) once compressed: about 190 KB with 255-character
# random table names and the longest reasons (tests/lambda/test_dynamodb_export_state.py).
PLAN_CHUNK = 1000
# History chunks: 1,000 keys of at most 257 characters (a 255-character table name
# and a type prefix) and a duration stay under 400 KB even uncompressed.
HISTORY_CHUNK = 1000
# Measured durations buffered in the run item before they move to a `took` item: with
# the at most 300 a wave can add, a `took` item holds fewer than 550 (about 150 KB
# uncompressed at most), and the run item never more than 249.
MEASURED_CHUNK = 250
# A cut stays open while its tables are exportable: at most 35 days, the longest
# point-in-time recovery window (RecoveryPeriodInDays 1..35). Its items outlive that.
STATE_TTL = timedelta(days=36)
HEAD_KEY = "head"
# A waiting table's last failure is kept to this many characters (the full text is in its
# log line): 900 waiting tables stay a fraction of the run item.
FAILED_CHARS = 160
# The run item's document format (item attribute `format`; items without one are 1). A
# run item of a later format is unreadable here: set aside and rebuilt, never guessed at.
STATE_FORMAT = 2


def history_key(table: str, export_type: str) -> str:
    """Key of a table's remembered duration: full and incremental exports differ in length.

    Table names are `[A-Za-z0-9_.-]`, so the `#` keeps the two apart.
    """
    return f"{'I' if export_type == 'INCREMENTAL_EXPORT' else 'F'}#{table}"


def history_table(key: str) -> str:
    """The table a history key belongs to."""
    return key.split("#", 1)[1]


class StateConflictError(Exception):
    """Another run changed the cut's state since it was read (lost lease or race)."""


class StateUnreadableError(Exception):
    """An item of a cut's state cannot be read; `item` is the raw run item, if it was read."""

    def __init__(
        self,
        cut: datetime,
        reason: str,
        item: Mapping[str, Any] | None = None,
        version: int | None = None,
    ) -> None:
        self.cut = cut
        self.reason = reason
        self.item = dict(item) if item is not None else None
        self._version = version
        super().__init__(f"state of cut {cut.isoformat()} is unreadable: {reason}")

    @property
    def version(self) -> str | None:
        """The run item's `version` attribute as stored, if it has a readable one."""
        if self._version is not None:
            return str(self._version)
        value = (self.item or {}).get("version", {})
        number = value.get("N") if isinstance(value, Mapping) else None
        return str(number) if isinstance(number, str) else None


@dataclass
class Head:
    """The `head` item: the newest scheduled cut, and the cuts still open."""

    newest: datetime | None = None
    open: set[datetime] = field(default_factory=set)
    # The item existed but could not be read (it is then rewritten).
    damaged: str | None = None


@dataclass
class PlanEntry:
    """A table still to start, with what the first run planned for it."""

    table: str
    export_type: str = "FULL_EXPORT"
    attempt: int = 1
    from_time: str | None = None
    reason: str | None = None
    # Seconds the table's export took when it last ran (the history); None if unknown.
    expected: float | None = None
    # False: whether an export of the cut already exists is unknown (its ListExports
    # failed, or a run died after saving its intent to start it); checked before starting.
    checked: bool = True
    # Retryable failures so far and when the next try may come (epoch seconds): the
    # table's own back-off, so that one storm does not use up every table's retries.
    tries: int = 0
    not_before: float = 0.0
    # The last failure (an export that FAILED, an error that is not transient): a table
    # still failing at the cut's day mark is given up and counted as missed.
    failed: str | None = None


def entry_document(entry: PlanEntry) -> dict[str, Any]:
    """`entry` as stored: fields at their defaults are left out (plan chunks stay small)."""
    defaults = PlanEntry(table="")
    document = {
        key: value
        for key, value in asdict(entry).items()
        if key == "table" or value != getattr(defaults, key)
    }
    if entry.failed is not None:
        document["failed"] = entry.failed[:FAILED_CHARS]
    return document


@dataclass
class Tracked:
    """An export in flight that the run watches with DescribeExport."""

    arn: str
    table: str
    started: float  # epoch seconds
    check_at: float  # epoch seconds of the next DescribeExport
    alive_at: float = 0.0  # age (s) at which it was last seen IN_PROGRESS
    attempt: int = 1
    export_type: str = "FULL_EXPORT"
    expected: float | None = None  # seconds, from the table's history


@dataclass
class RunState:
    """Everything a run of one cut carries over to the next run of the same cut."""

    cut: datetime
    run_id: str
    created: float
    deadline: float
    scheduled: bool  # a scheduled cut (head chain), not a manual `exportTime`
    wave: int = 0
    next_wave: int | None = None
    next_due: float | None = None
    total: int = 0
    cursor: int = 0
    requeue: list[PlanEntry] = field(default_factory=list)
    in_flight: list[Tracked] = field(default_factory=list)
    foreign: list[Tracked] = field(default_factory=list)
    # Exports nobody listed, inferred from LimitExceededException, until `limit_until`.
    limit_foreign: int = 0
    limit_until: float = 0.0
    durations: list[float] = field(default_factory=list)
    # Recent ratios of an export's duration to its table's expected one (history).
    ratios: list[float] = field(default_factory=list)
    # Running sums over this cut's exports that had a history (continuation.add_to_fit),
    # and whether the previous cut's said history predicts durations (None: unknown).
    history_fit: list[float] = field(default_factory=list)
    trust_history: bool | None = None
    # Durations measured in this cut by history key, not yet moved to a `took` item.
    measured: dict[str, float] = field(default_factory=dict)
    took_items: int = 0
    history_items: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    closed: bool = False
    # False from a first run's start until its plan is saved. True by default: states
    # written before the field existed were saved with their plan.
    planned: bool = True
    # Set (epoch seconds) when a run saves its intent to start the entries from the
    # requeue list and the plan up to `intent_until`, cleared by that run's next save.
    intent_at: float | None = None
    intent_until: int = 0
    # Plan entries before this index must be checked with ListExports before they start.
    unchecked_until: int = 0
    # The continuation for `next_wave` could not be created: the next run resumes it.
    unscheduled: bool = False
    # Consecutive waves whose starts a transient error stopped, and until when starts
    # wait: the cut backs off as a whole during an outage, as each table does.
    stalls: int = 0
    stall_until: float = 0.0
    # The day mark (`deadline`) has been reported (cut_overdue) and failing tables given up.
    overdue: bool = False
    # Tables missed for good (the first MISSED_NAMED), for the cut's closing report.
    missed_tables: list[str] = field(default_factory=list)
    # Persistence: the item's version and lease as read (not part of the document).
    version: int = 0
    lease_owner: str = ""
    lease_until: float = 0.0

    @property
    def pending(self) -> int:
        """Tables neither started nor decided yet."""
        return len(self.requeue) + max(0, self.total - self.cursor)

    def to_document(self) -> dict[str, Any]:
        """JSON-ready document; persistence fields are item attributes instead."""
        document = asdict(self)
        document["requeue"] = [entry_document(entry) for entry in self.requeue]
        document["cut"] = self.cut.isoformat()
        for name in ("version", "lease_owner", "lease_until"):
            document.pop(name)
        return document

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> RunState:
        """Inverse of to_document."""
        fields = dict(document)
        fields["cut"] = datetime.fromisoformat(fields["cut"]).astimezone(UTC)
        fields["requeue"] = [PlanEntry(**entry) for entry in fields.get("requeue", [])]
        fields["in_flight"] = [Tracked(**entry) for entry in fields.get("in_flight", [])]
        fields["foreign"] = [Tracked(**entry) for entry in fields.get("foreign", [])]
        return cls(**fields)


def cut_key(cut: datetime) -> str:
    """The partition key of a cut's run item."""
    return f"cut#{cut.astimezone(UTC).isoformat()}"


def _pack(value: Any) -> bytes:
    return zlib.compress(json.dumps(value, separators=(",", ":")).encode())


def _unpack(blob: Any) -> Any:
    # boto3 returns Binary attributes as bytes, or as its Binary wrapper with `.value`.
    raw = blob.value if hasattr(blob, "value") else blob
    return json.loads(zlib.decompress(bytes(raw)))


def _is_condition_failure(exc: ClientError) -> bool:
    code: object = exc.response.get("Error", {}).get("Code")
    return code == "ConditionalCheckFailedException"


class StateStore:
    """Reads and writes run state items with the low-level DynamoDB client."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    @property
    def table(self) -> str:
        """Name of the state table."""
        return self._table

    def load(self, cut: datetime) -> RunState | None:
        """The cut's run state (strongly consistent), or None before its first run.

        Raises StateUnreadableError when the item exists but cannot be read.
        """
        item = self._client.get_item(
            TableName=self._table, Key={"pk": {"S": cut_key(cut)}}, ConsistentRead=True
        ).get("Item")
        if item is None:
            return None
        try:
            document_format = int(item.get("format", {}).get("N", "1"))
            if document_format > STATE_FORMAT:
                raise ValueError(
                    f"format {document_format}; this version reads up to {STATE_FORMAT}"
                )
            state = RunState.from_document(_unpack(item["doc"]["B"]))
            state.version = int(item["version"]["N"])
            state.lease_owner = item.get("leaseOwner", {}).get("S", "")
            state.lease_until = float(item.get("leaseUntil", {}).get("N", "0"))
        # Whatever is wrong with it (bad bytes, unknown fields, missing attributes), the
        # item is set aside and the cut rebuilt: nothing about it can be trusted.
        except Exception as exc:  # noqa: BLE001
            raise StateUnreadableError(cut, f"{type(exc).__name__}: {exc}", item) from None
        return state

    def _item(self, state: RunState) -> dict[str, Any]:
        expires = int(state.created + STATE_TTL.total_seconds())
        return {
            "pk": {"S": cut_key(state.cut)},
            "doc": {"B": _pack(state.to_document())},
            "format": {"N": str(STATE_FORMAT)},
            "version": {"N": str(state.version)},
            "leaseOwner": {"S": state.lease_owner},
            "leaseUntil": {"N": repr(state.lease_until)},
            "expiresAt": {"N": str(expires)},
        }

    def create(
        self,
        state: RunState,
        owner: str,
        lease_until: float,
        replacing: StateUnreadableError | None = None,
    ) -> bool:
        """Write the first state of a cut, holding its lease; False if it already exists.

        With `replacing`, the unreadable item it names is overwritten, unless another run
        changed (or rebuilt) it since it was read.
        """
        condition = "attribute_not_exists(pk)"
        values: dict[str, Any] = {}
        if replacing is not None and replacing.version is not None:
            condition += " OR version = :seen"
            values[":seen"] = {"N": replacing.version}
        elif replacing is not None:
            condition += " OR attribute_not_exists(version)"
        state.version = 1 + int(replacing.version or 0) if replacing is not None else 1
        state.lease_owner, state.lease_until = owner, lease_until
        try:
            self._client.put_item(
                TableName=self._table,
                Item=self._item(state),
                ConditionExpression=condition,
                **({"ExpressionAttributeValues": values} if values else {}),
            )
        except ClientError as exc:
            if _is_condition_failure(exc):
                return False
            raise
        return True

    def acquire(self, state: RunState, owner: str, now: float, lease_until: float) -> bool:
        """Take the cut's lease if nobody holds it and nothing changed since `load`."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": cut_key(state.cut)}},
                UpdateExpression="SET leaseOwner = :owner, leaseUntil = :until, version = :next",
                ConditionExpression="version = :seen AND leaseUntil <= :now",
                ExpressionAttributeValues={
                    ":owner": {"S": owner},
                    ":until": {"N": repr(lease_until)},
                    ":next": {"N": str(state.version + 1)},
                    ":seen": {"N": str(state.version)},
                    ":now": {"N": repr(now)},
                },
            )
        except ClientError as exc:
            if _is_condition_failure(exc):
                return False
            raise
        state.version += 1
        state.lease_owner, state.lease_until = owner, lease_until
        return True

    def save(self, state: RunState, *, release: bool) -> None:
        """Write the state back under the lease this run holds; release it if asked.

        Measured durations move to a `took` item of their own first, once there are
        MEASURED_CHUNK of them, so the run item stays small whatever the table count.
        """
        if len(state.measured) >= MEASURED_CHUNK:
            # Written before the run item that counts it: if this run dies in between,
            # the next one writes the same index again.
            self._put_chunk(state, f"took#{state.took_items}", state.measured)
            state.took_items += 1
            state.measured = {}
        owner = state.lease_owner
        seen = state.version
        state.version += 1
        if release:
            state.lease_owner, state.lease_until = "", 0.0
        try:
            self._client.put_item(
                TableName=self._table,
                Item=self._item(state),
                ConditionExpression="version = :seen AND leaseOwner = :owner",
                ExpressionAttributeValues={
                    ":seen": {"N": str(seen)},
                    ":owner": {"S": owner},
                },
            )
        except ClientError as exc:
            if _is_condition_failure(exc):
                raise StateConflictError(
                    f"state of cut {state.cut.isoformat()} changed under this run's lease"
                ) from None
            raise

    def _put_chunk(self, state: RunState, name: str, value: Any) -> None:
        """An item `cut#<ISO cut>#<name>` holding `value`, expiring with the cut's state."""
        self._client.put_item(
            TableName=self._table,
            Item={
                "pk": {"S": f"{cut_key(state.cut)}#{name}"},
                "doc": {"B": _pack(value)},
                "expiresAt": {"N": str(int(state.created + STATE_TTL.total_seconds()))},
            },
        )

    def _get_chunk(self, state: RunState, name: str) -> Any:
        """The value of item `cut#<ISO cut>#<name>`, or None if there is no such item.

        Raises StateUnreadableError if the item cannot be decoded.
        """
        item = self._client.get_item(
            TableName=self._table,
            Key={"pk": {"S": f"{cut_key(state.cut)}#{name}"}},
            ConsistentRead=True,
        ).get("Item")
        if item is None:
            return None
        try:
            return _unpack(item["doc"]["B"])
        except Exception as exc:  # noqa: BLE001 - see load
            raise StateUnreadableError(
                state.cut, f"{name}: {type(exc).__name__}: {exc}", version=state.version
            ) from None

    def write_plan(self, state: RunState, entries: Sequence[PlanEntry]) -> None:
        """The list of tables to start, in chunk items; written once per cut."""
        for index in range(0, len(entries), PLAN_CHUNK):
            chunk = [entry_document(entry) for entry in entries[index : index + PLAN_CHUNK]]
            self._put_chunk(state, f"plan#{index // PLAN_CHUNK}", chunk)
        state.total = len(entries)

    def write_history(
        self, state: RunState, history: Mapping[str, float], tables: Collection[str]
    ) -> None:
        """The history this cut starts from, in chunk items; written once per cut.

        Only `tables` (those that exist now) are kept: a deleted table is forgotten.
        """
        keys = sorted(key for key in history if history_table(key) in tables)
        for index in range(0, len(keys), HISTORY_CHUNK):
            chunk = {key: history[key] for key in keys[index : index + HISTORY_CHUNK]}
            self._put_chunk(state, f"history#{index // HISTORY_CHUNK}", chunk)
        state.history_items = math.ceil(len(keys) / HISTORY_CHUNK)

    def read_history(self, state: RunState) -> dict[str, float]:
        """What the cut started from, updated with every duration it measured.

        A missing item (expired, deleted by hand) only means less history.
        """
        names = [f"history#{i}" for i in range(state.history_items)]
        names += [f"took#{i}" for i in range(state.took_items)]
        history: dict[str, float] = {}
        for name in names:
            try:
                history.update(self._get_chunk(state, name) or {})
            except StateUnreadableError:
                continue  # a damaged history item, like a missing one, is less history
        history.update(state.measured)
        return history

    def read_plan(self, state: RunState, count: int) -> list[PlanEntry]:
        """Up to `count` entries of the list, from the state's cursor on."""
        entries: list[PlanEntry] = []
        position = state.cursor
        end = min(state.total, state.cursor + count)
        while position < end:
            chunk_index = position // PLAN_CHUNK
            chunk = self._get_chunk(state, f"plan#{chunk_index}")
            if chunk is None:
                # Half-written (or deleted by hand): the plan cannot be trusted any more.
                raise StateUnreadableError(
                    state.cut, f"plan chunk {chunk_index} is missing", version=state.version
                )
            offset = position - chunk_index * PLAN_CHUNK
            taken = chunk[offset : offset + end - position]
            try:
                entries.extend(PlanEntry(**entry) for entry in taken)
            except TypeError as exc:
                raise StateUnreadableError(
                    state.cut, f"plan chunk {chunk_index}: {exc}", version=state.version
                ) from None
            position += len(taken)
        return entries

    def set_aside(self, error: StateUnreadableError, now: float) -> str:
        """Copy an unreadable run item to `<key>#unreadable#<time>` for a person to look at.

        The copy expires like state does; the original is left for `create(replacing=)`.
        Returns the copy's key.
        """
        key = cut_key(error.cut)
        item = error.item
        if item is None:
            item = (
                self._client.get_item(
                    TableName=self._table, Key={"pk": {"S": key}}, ConsistentRead=True
                ).get("Item")
                or {}
            )
        aside = f"{key}#unreadable#{int(now)}"
        copy = {name: value for name, value in item.items() if name != "pk"}
        copy.update(
            pk={"S": aside},
            reason={"S": error.reason[:1000]},
            expiresAt={"N": str(int(now + STATE_TTL.total_seconds()))},
        )
        self._client.put_item(TableName=self._table, Item=copy)
        return aside

    def head(self) -> Head:
        """The newest scheduled cut whose first run has happened, and the open cuts."""
        item = self._client.get_item(
            TableName=self._table, Key={"pk": {"S": HEAD_KEY}}, ConsistentRead=True
        ).get("Item")
        if item is None:
            return Head()
        try:
            newest = item.get("cut", {}).get("S")
            return Head(
                newest=datetime.fromisoformat(newest).astimezone(UTC) if newest else None,
                open={
                    datetime.fromisoformat(value).astimezone(UTC)
                    for value in item.get("open", {}).get("SS", [])
                },
            )
        except (ValueError, TypeError, AttributeError) as exc:
            return Head(damaged=f"{type(exc).__name__}: {exc}")

    def reset_head(self, head: Head) -> None:
        """Rewrite a damaged `head` item with what the run knows (its own cut, at least)."""
        item: dict[str, Any] = {"pk": {"S": HEAD_KEY}}
        if head.newest is not None:
            item["cut"] = {"S": head.newest.isoformat()}
        if head.open:
            item["open"] = {"SS": sorted(cut.isoformat() for cut in head.open)}
        self._client.put_item(TableName=self._table, Item=item)

    def set_head(self, cut: datetime) -> bool:
        """Move the head to `cut` unless it already names this cut or a newer one."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": HEAD_KEY}},
                UpdateExpression="SET #cut = :cut",
                ConditionExpression="attribute_not_exists(#cut) OR #cut < :cut",
                ExpressionAttributeNames={"#cut": "cut"},
                ExpressionAttributeValues={":cut": {"S": cut.isoformat()}},
            )
        except ClientError as exc:
            if _is_condition_failure(exc):
                return False
            raise
        return True

    def open_cut(self, cut: datetime) -> None:
        """List `cut` as open: any scheduled run carries it on until it is closed."""
        self._open_set("ADD", cut)

    def close_cut(self, cut: datetime) -> None:
        """Take `cut` off the open list (it is closed, or its state is gone)."""
        self._open_set("DELETE", cut)

    def _open_set(self, action: str, cut: datetime) -> None:
        # ADD and DELETE on a string set are atomic: concurrent runs never lose a cut.
        self._client.update_item(
            TableName=self._table,
            Key={"pk": {"S": HEAD_KEY}},
            UpdateExpression=f"{action} #open :cut",
            ExpressionAttributeNames={"#open": "open"},
            ExpressionAttributeValues={":cut": {"SS": [cut.isoformat()]}},
        )
