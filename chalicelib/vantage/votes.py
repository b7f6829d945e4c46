"""The regions' votes, the acted status and the confirmed changes not yet published, in the home
region's state table (partition "vantage").

Where the votes meet: each region writes its votes straight into the home region's table (one
conditional PutItem, cross-region) and publishes a confirmed change to the home region's alarms
topic. Only changes are written: a region votes when its own fold turns a monitor DOWN or UP
again, and when another region asks it to confirm; a steady monitor costs nothing.

Why not a DynamoDB global table: replication is per table, not per partition, so every write of
the state table (monitor states, history, incidents, idempotency records) would be written two
more times, and a table would stand in each region. At the us-east-1 list prices bench/cost.py
uses ($1.25 per million writes, $1.875 per million replicated writes, $0.25 per million reads),
for a monitor that changes state twice a day (60 changes a month):
  - direct writes: a change makes 3 votes + 1 acted item + 1 pending item, its claim and its
    removal = 7 writes, plus 3 Queries: 60 x (7 x $1.25 + 3 x $0.25) / 1e6 = $0.00057 a month;
    the home region also looks for pending messages once a cycle: 43,200 Queries, $0.011 a
    month for the whole table, not per monitor;
  - global table: the same votes replicated to 2 more regions, plus every other write of the
    table replicated twice: the probe's history flush alone (one a cycle, 43,200 a month) is
    2 x 43,200 x $1.875 / 1e6 = $0.16 a month, and 3 tables to run;
  - each region publishing its votes to the home topic: $0.50 per million publishes plus an
    on_alarm invocation per vote, and the votes still have to be written by on_alarm: the
    direct write's cost, plus a hop of latency.
A note (one region's failure, unconfirmed) costs 2 writes, 3 for its window's first: the note,
its place in the window's blip (the status history's one line) and the site's publish flag.
The confirmations cost the same whichever way the votes travel: 2 asynchronous invokes a change
($0.20 per million, and about 0.3 s at 512 MB: $0.0000027 each), $0.0003 a month.
The direct write is the cheapest and the quickest (one round trip of 80-250 ms between regions);
its price is that the home region's table is a single point: when it cannot be reached, no
region can confirm, and the probe reports that, every cycle, in its summary and log.

A round is a few requests however many monitors it names. A few monitors' votes and changes
are a request each; more (a region gone blind, the confirmations it asks for), transactions of
100 writes, each write still conditional (a vote on its time, a change on the acted version):
a transactional write costs twice a PutItem's, so only a round over many monitors pays it. The
votes are read back in one paged Query of a range of the window's keys (the key starts with the
window), the acted statuses in BatchGetItems of 100, the notes in BatchWriteItems of 25 and
one update per window's blip line; the batches go a few at once (`pool`).

>>> store = VoteStore("autoheal-state", "us-east-1")  # doctest: +SKIP
>>> store.cast(vote); store.votes("web", 29_500_000)  # doctest: +SKIP
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Optional, Sequence

from chalicelib.aws.dynamodb import plain, to_item
from chalicelib.vantage import regional
from chalicelib.vantage.pool import each
from chalicelib.vantage.quorum import Vote

PARTITION = "vantage"
VOTE_DAYS = 2  # a window is decided within minutes; the votes are kept a little for the story
NOTE_DAYS = 7
UNCLAIMED = "attribute_exists(sk) AND (attribute_not_exists(claimed_until) OR claimed_until < :now)"
DAY = 86400.0
FEW = 3  # monitors in a round read vote by vote; more, the window's votes in one Query
BATCH_GET = 100  # keys per BatchGetItem
BATCH_WRITE = 25  # items per BatchWriteItem
UNPROCESSED_ROUNDS = 5  # a batch's unprocessed part asked again this many times
TRANSACT_ITEMS = 100  # writes per TransactWriteItems
TRANSACT_ROUNDS = 5  # a transaction cancelled by others' writes is tried again this many times
REFUSED = "ConditionalCheckFailed"
RETRIED = {"None", "TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}
SITE_GATE = ("statuspage", "publish")  # statuspage.publish_gate's item, in the same (home) table


@dataclass(frozen=True)
class Blip:
    """Regions that saw monitors failing in one window without a quorum: a line, not an incident."""

    window: int
    at: float  # the first note's time
    failing: tuple[str, ...]
    healthy: tuple[str, ...]  # the regions that saw them healthy (any of them)
    monitors: int


@dataclass(frozen=True)
class Acted:
    """What on_alarm was told about a monitor last (UNKNOWN before the first quorum)."""

    status: str = "UNKNOWN"
    window: int = -1
    version: int = 0
    reason: Optional[str] = None  # the regions' evidence when the quorum changed it


@dataclass(frozen=True)
class Note:
    """One region's failure in a window, settled without a quorum: its evidence, and the line
    it joins in the status history (its window and failing regions)."""

    monitor: str
    window: int
    at: float
    evidence: str
    failing: tuple[str, ...] = ()
    healthy: tuple[str, ...] = ()


@dataclass(frozen=True)
class Change:
    """The quorum's new status for a monitor, conditional on the acted version read."""

    monitor: str
    held: Acted
    status: str
    window: int
    message: Optional[dict]
    reason: Optional[str] = None


class VoteStore:
    def __init__(self, table_name: str, region: str) -> None:
        self.table_name = table_name
        self.region = region

    @property
    def table(self) -> Any:
        return regional.table(self.table_name, self.region)

    @property
    def client(self) -> Any:
        """The table resource's client: thread-safe (the resource is not), and it (de)serialises
        attribute values as the resource does."""
        return self.table.meta.client

    # -- votes ------------------------------------------------------------------------------
    def cast(self, vote: Vote) -> bool:
        """Write a vote; a region's earlier vote in the window is replaced, a later one kept
        (a redelivered confirmation never overwrites a newer word). False: a newer one stood."""
        client = self.client
        try:
            client.put_item(**self._vote_put(vote))
        except client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def cast_many(self, votes: Sequence[Vote]) -> list[bool]:
        """Votes of distinct monitors as `cast` writes them, in transactions of 100: a round
        over many monitors in a few requests (each write costs twice a PutItem's: a blind
        region's round, not a monitor's change). One that a newer vote refused is False."""
        return self._transact([[{"Put": self._vote_put(vote)}] for vote in votes])

    def _vote_put(self, vote: Vote) -> dict[str, Any]:
        item = {
            "pk": PARTITION,
            "sk": vote_key(vote.monitor, vote.window, vote.region),
            "region": vote.region,
            "monitor": vote.monitor,
            "window": vote.window,
            "verdict": vote.verdict,
            "at": vote.at,
            "expiration": int(vote.at + VOTE_DAYS * DAY),
        }
        if vote.error:
            item["error"] = vote.error[:300]
        if vote.latency_ms is not None:
            item["latency_ms"] = round(vote.latency_ms, 1)
        return {
            "TableName": self.table_name,
            "Item": to_item(item),
            "ConditionExpression": "attribute_not_exists(sk) OR #at < :at",
            "ExpressionAttributeValues": to_item({":at": vote.at}),
            "ExpressionAttributeNames": {"#at": "at"},
        }

    def votes(self, monitor: str, window: Optional[int] = None) -> list[Vote]:
        """The votes on `monitor` in `window`; without one, in every window kept (every vote
        read: the story of a monitor, not a round's read)."""
        if window is None:
            return [vote for vote in map(to_vote, self._query("vote#")) if vote.monitor == monitor]
        return [to_vote(item) for item in self._query(vote_key(monitor, window, ""))]

    def round_votes(self, window: int, monitors: Iterable[str]) -> dict[str, list[Vote]]:
        """The votes on `monitors` in `window`, by monitor: a few monitors' own, else one paged
        Query of the window's keys from the first monitor's to the last's (by name: a chunk of
        a round sorted by name reads its own votes, not the whole window's)."""
        wanted = sorted(set(monitors))
        if len(wanted) <= FEW:
            return {monitor: self.votes(monitor, window) for monitor in wanted}
        from boto3.dynamodb.conditions import Key

        first, last = vote_key(wanted[0], window, ""), vote_key(wanted[-1], window, "~")
        condition = Key("pk").eq(PARTITION) & Key("sk").between(first, last)
        found: dict[str, list[Vote]] = {monitor: [] for monitor in wanted}
        for item in self._pages({"KeyConditionExpression": condition, "ConsistentRead": True}):
            vote = to_vote(plain(item))
            if vote.monitor in found:
                found[vote.monitor].append(vote)
        return found

    # -- the acted status, and what is to be published ---------------------------------------
    def acted(self, monitor: str) -> Acted:
        item = self.table.get_item(Key={"pk": PARTITION, "sk": acted_key(monitor)}, ConsistentRead=True)
        found = plain(item.get("Item"))
        return to_acted(found) if found else Acted()

    def acted_many(self, monitors: Iterable[str]) -> dict[str, Acted]:
        """The acted status of each monitor, consistent reads in BatchGetItems of 100, a few
        at once."""
        wanted = list(dict.fromkeys(monitors))
        chunks = [wanted[start : start + BATCH_GET] for start in range(0, len(wanted), BATCH_GET)]
        found = {monitor: Acted() for monitor in wanted}
        for part in each(self._acted_batch, chunks, None):
            found |= part  # type: ignore[operator]  # no deadline: never LATE
        return found

    def _acted_batch(self, monitors: list[str]) -> dict[str, Acted]:
        keys = [{"pk": PARTITION, "sk": acted_key(m)} for m in monitors]
        request = {self.table_name: {"Keys": keys, "ConsistentRead": True}}
        found: dict[str, Acted] = {}
        for _ in range(UNPROCESSED_ROUNDS):
            answer = self.client.batch_get_item(RequestItems=request)
            for item in map(plain, answer.get("Responses", {}).get(self.table_name, [])):
                found[str(item["sk"]).removeprefix("acted#")] = to_acted(item)
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                return found
        raise RuntimeError(f"{self.table_name}: BatchGetItem kept acted statuses unprocessed")

    def acted_all(self) -> dict[str, Acted]:
        """Every monitor's acted status, one Query (paged): what the quorum holds DOWN or UP."""
        return {str(item["sk"]).removeprefix("acted#"): to_acted(item) for item in self._query("acted#")}

    def change(
        self,
        monitor: str,
        held: Acted,
        status: str,
        window: int,
        message: Optional[dict],
        reason: Optional[str] = None,
    ) -> bool:
        """Record the quorum's new status (and why) and, in the same transaction, the message to
        publish; False when another region recorded a change first (its version moved)."""
        return self.change_many([Change(monitor, held, status, window, message, reason)]) == [True]

    def change_many(self, changes: Sequence[Change]) -> list[bool]:
        """Changes of distinct monitors, as `change` records each, several to a transaction:
        False for each whose version moved (the others are recorded all the same)."""
        return self._transact([self._change_writes(change) for change in changes])

    def _change_writes(self, change: Change) -> list[dict[str, Any]]:
        held = change.held
        acted: dict[str, Any] = {
            "pk": PARTITION,
            "sk": acted_key(change.monitor),
            "status": change.status,
            "window": change.window,
            "version": held.version + 1,
        }
        if change.reason:
            acted["reason"] = change.reason[:1000]
        put_acted: dict[str, Any] = {"TableName": self.table_name, "Item": to_item(acted)}
        if held.version:
            put_acted["ConditionExpression"] = "version = :v"
            put_acted["ExpressionAttributeValues"] = {":v": held.version}
        else:
            put_acted["ConditionExpression"] = "attribute_not_exists(sk)"
        writes: list[dict[str, Any]] = [{"Put": put_acted}]
        if change.message is not None:
            key = pending_key(change.monitor, change.window, held.version + 1)
            pending = {"pk": PARTITION, "sk": key, "message": json.dumps(change.message)}
            writes.append({"Put": {"TableName": self.table_name, "Item": pending}})
        return writes

    def _transact(self, groups: Sequence[list[dict[str, Any]]]) -> list[bool]:
        """Write each group of writes all or nothing, as many groups to a transaction as fit:
        False for a group whose condition failed. A transaction cancelled for one group's
        condition (or a conflict) is written again without the refused groups."""
        done: dict[int, bool] = {}
        todo = list(range(len(groups)))
        for _ in range(TRANSACT_ROUNDS):
            again: list[int] = []
            for chunk in packed(todo, groups):
                refused, retry = self._transact_once([groups[i] for i in chunk])
                done |= {i: False for n, i in enumerate(chunk) if n in refused}
                done |= {i: True for n, i in enumerate(chunk) if n not in refused and not retry}
                again += [i for n, i in enumerate(chunk) if n not in refused and retry]
            if not again:
                return [done[i] for i in range(len(groups))]
            todo = again
        raise RuntimeError(f"{self.table_name}: transactions kept being cancelled")

    def _transact_once(self, groups: list[list[dict[str, Any]]]) -> tuple[set[int], bool]:
        """One transaction of these groups: the groups a condition refused, and whether the
        rest must be written again (the transaction was cancelled)."""
        client = self.client
        try:
            client.transact_write_items(TransactItems=[write for group in groups for write in group])
        except client.exceptions.TransactionCanceledException as exc:
            reasons = [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]
            if len(reasons) != sum(map(len, groups)) or not set(reasons) <= RETRIED | {REFUSED}:
                raise
            refused, at = set(), 0
            for n, group in enumerate(groups):
                if REFUSED in reasons[at : at + len(group)]:
                    refused.add(n)
                at += len(group)
            return refused, True
        return set(), False

    def pending(self) -> list[tuple[str, dict]]:
        """Confirmed changes SNS has not taken yet: (key, message), oldest window first."""
        found = self._query("pending#")
        return sorted(((str(i["sk"]), json.loads(i["message"])) for i in found), key=lambda p: p[0])

    def claim(self, key: str, now: float, seconds: float) -> bool:
        """Take a pending message to publish for `seconds`: two regions flushing at once publish
        it once; one that dies holding it leaves it to the next after the claim runs out."""
        table = self.table
        try:
            table.update_item(
                Key={"pk": PARTITION, "sk": key},
                UpdateExpression="SET claimed_until = :until",
                ConditionExpression=UNCLAIMED,
                ExpressionAttributeValues=to_item({":until": now + seconds, ":now": now}),
            )
        except table.meta.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def published(self, key: str) -> None:
        self.table.delete_item(Key={"pk": PARTITION, "sk": key})

    # -- notes: one region's failure, no incident ----------------------------------------------
    def note(
        self,
        monitor: str,
        window: int,
        at: float,
        evidence: str,
        failing: Sequence[str] = (),
        healthy: Sequence[str] = (),
    ) -> None:
        """The monitor's note (its evidence), and its place in the window's blip: one item per
        window and failing regions, holding the set of monitors (adding one twice counts once),
        which the status history shows as one line."""
        self.note_many([Note(monitor, window, at, evidence, tuple(failing), tuple(healthy))])

    def note_many(self, notes: Sequence[Note]) -> None:
        """Notes of a round: their items in BatchWriteItems of 25 (a few at once), then each
        blip line they join in one update (its set of monitors grows by all of the line's at once)."""
        items = [note_item(note) for note in notes]
        each(
            self._write_batch,
            [items[start : start + BATCH_WRITE] for start in range(0, len(items), BATCH_WRITE)],
            None,
        )
        lines: dict[tuple[int, tuple[str, ...]], list[Note]] = {}
        for note in notes:
            if note.failing:
                lines.setdefault((note.window, tuple(sorted(note.failing))), []).append(note)
        fresh = [self._blip(window, failing, line) for (window, failing), line in lines.items()]
        first = [at for at in fresh if at is not None]
        if first:
            # A new line: the home site's publish gate (statuspage.publish_gate's item) is told,
            # and its probe publishes within a minute instead of at the hourly publish.
            self.table.update_item(
                Key={"pk": SITE_GATE[0], "sk": SITE_GATE[1]},
                UpdateExpression="SET pending_at = :at",
                ExpressionAttributeValues=to_item({":at": min(first)}),
            )

    def _write_batch(self, items: list[dict[str, Any]]) -> None:
        request = {self.table_name: [{"PutRequest": {"Item": to_item(item)}} for item in items]}
        for _ in range(UNPROCESSED_ROUNDS):
            request = self.client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
            if not request:
                return
        raise RuntimeError(f"{self.table_name}: BatchWriteItem kept notes unprocessed")

    def notes(self, monitor: str) -> list[dict[str, Any]]:
        return self._query(f"note#{monitor}#")

    def blips(self, since: float, seconds: float) -> list[Blip]:
        """The windows since `since` (epoch seconds; windows of `seconds`) in which regions saw
        monitors failing without a quorum, oldest first: one Query of a few items."""
        from boto3.dynamodb.conditions import Key

        start = f"blip#{max(0, int(since // seconds)):012d}"
        condition = Key("pk").eq(PARTITION) & Key("sk").between(start, "blip#~")
        items = [plain(i) for i in self._pages({"KeyConditionExpression": condition})]
        return [to_blip(item) for item in items]

    def _blip(self, window: int, failing: tuple[str, ...], notes: Sequence[Note]) -> Optional[float]:
        """Add the notes' monitors to the window's line of these failing regions; its time
        when the line is new, else None (its count grows with the site's next publish)."""
        at = min(note.at for note in notes)
        healthy = sorted({region for note in notes for region in note.healthy})
        adds = {":m": {note.monitor for note in notes}} | ({":h": set(healthy)} if healthy else {})
        before = self.table.update_item(
            Key={"pk": PARTITION, "sk": f"blip#{window:012d}#{','.join(failing)}"},
            UpdateExpression=" ".join(
                [
                    "SET #at = if_not_exists(#at, :at), failing = :f, expiration = :x",
                    "ADD monitors :m" + (", healthy :h" if healthy else ""),
                ]
            ),
            ExpressionAttributeNames={"#at": "at"},
            ExpressionAttributeValues=to_item(
                {":at": at, ":f": list(failing), ":x": int(at + NOTE_DAYS * DAY)}
            )
            | adds,
            ReturnValues="UPDATED_OLD",
        )
        return None if "monitors" in before.get("Attributes", {}) else at

    def _query(self, prefix: str) -> list[dict[str, Any]]:
        from boto3.dynamodb.conditions import Key

        condition = Key("pk").eq(PARTITION) & Key("sk").begins_with(prefix)
        return [
            plain(item) for item in self._pages({"KeyConditionExpression": condition, "ConsistentRead": True})
        ]

    def _pages(self, kwargs: dict[str, Any]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            page = self.table.query(**kwargs)
            items += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return items
            kwargs = kwargs | {"ExclusiveStartKey": page["LastEvaluatedKey"]}


def packed(indexes: Sequence[int], groups: Sequence[list]) -> list[list[int]]:
    """The groups' indexes in order, as many to a transaction as TRANSACT_ITEMS allows."""
    chunks: list[list[int]] = []
    size = TRANSACT_ITEMS
    for i in indexes:
        if size + len(groups[i]) > TRANSACT_ITEMS:
            chunks.append([])
            size = 0
        chunks[-1].append(i)
        size += len(groups[i])
    return chunks


def vote_key(monitor: str, window: int, region: str) -> str:
    """The window first: a round reads the votes of all its monitors in one Query (a region
    is [a-z0-9-], so "~" sorts after every region of a monitor)."""
    return f"vote#{window:012d}#{monitor}#{region}"


def note_item(note: Note) -> dict[str, Any]:
    item = {"pk": PARTITION, "sk": f"note#{note.monitor}#{note.window:012d}", "monitor": note.monitor}
    return item | {
        "at": note.at,
        "evidence": note.evidence[:1000],
        "expiration": int(note.at + NOTE_DAYS * DAY),
    }


def acted_key(monitor: str) -> str:
    return f"acted#{monitor}"


def pending_key(monitor: str, window: int, version: int) -> str:
    return f"pending#{window:012d}#{monitor}#{version:09d}"


def to_vote(item: dict[str, Any]) -> Vote:
    latency = item.get("latency_ms")
    return Vote(
        region=str(item["region"]),
        monitor=str(item["monitor"]),
        window=int(item["window"]),
        verdict=str(item["verdict"]),
        error=item.get("error"),
        latency_ms=None if latency is None else float(latency),
        at=float(item["at"]),
    )


def to_acted(item: dict[str, Any]) -> Acted:
    reason = item.get("reason")
    return Acted(str(item["status"]), int(item["window"]), int(item["version"]), reason)


def to_blip(item: dict[str, Any]) -> Blip:
    return Blip(
        window=int(str(item["sk"]).split("#")[1]),
        at=float(item["at"]),
        failing=tuple(item.get("failing", ())),
        healthy=tuple(sorted(item.get("healthy", ()))),
        monitors=len(item.get("monitors", ())),
    )
