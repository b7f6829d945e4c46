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

>>> store = VoteStore("autoheal-state", "us-east-1")  # doctest: +SKIP
>>> store.cast(vote); store.votes("web", 29_500_000)  # doctest: +SKIP
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional, Sequence

from chalicelib.aws.dynamodb import plain, to_item
from chalicelib.vantage import regional
from chalicelib.vantage.quorum import Vote

PARTITION = "vantage"
VOTE_DAYS = 2  # a window is decided within minutes; the votes are kept a little for the story
NOTE_DAYS = 7
UNCLAIMED = "attribute_exists(sk) AND (attribute_not_exists(claimed_until) OR claimed_until < :now)"
DAY = 86400.0
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


class VoteStore:
    def __init__(self, table_name: str, region: str) -> None:
        self.table_name = table_name
        self.region = region

    @property
    def table(self) -> Any:
        return regional.table(self.table_name, self.region)

    # -- votes ------------------------------------------------------------------------------
    def cast(self, vote: Vote) -> bool:
        """Write a vote; a region's earlier vote in the window is replaced, a later one kept
        (a redelivered confirmation never overwrites a newer word). False: a newer one stood."""
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
        return self._put(item, "attribute_not_exists(sk) OR #at < :at", {":at": vote.at}, {"#at": "at"})

    def votes(self, monitor: str, window: Optional[int] = None) -> list[Vote]:
        """The votes on `monitor` in `window` (in every window kept, without one)."""
        prefix = vote_key(monitor, window, "") if window is not None else f"vote#{monitor}#"
        return [to_vote(item) for item in self._query(prefix)]

    # -- the acted status, and what is to be published ---------------------------------------
    def acted(self, monitor: str) -> Acted:
        item = self.table.get_item(Key={"pk": PARTITION, "sk": acted_key(monitor)}, ConsistentRead=True)
        found = plain(item.get("Item"))
        return to_acted(found) if found else Acted()

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
        acted: dict[str, Any] = {
            "pk": PARTITION,
            "sk": acted_key(monitor),
            "status": status,
            "window": window,
            "version": held.version + 1,
        }
        if reason:
            acted["reason"] = reason[:1000]
        put_acted: dict[str, Any] = {"TableName": self.table_name, "Item": to_item(acted)}
        if held.version:
            put_acted["ConditionExpression"] = "version = :v"
            put_acted["ExpressionAttributeValues"] = {":v": held.version}
        else:
            put_acted["ConditionExpression"] = "attribute_not_exists(sk)"
        writes: list[dict[str, Any]] = [{"Put": put_acted}]
        if message is not None:
            key = pending_key(monitor, window, held.version + 1)
            pending = {"pk": PARTITION, "sk": key, "message": json.dumps(message)}
            writes.append({"Put": {"TableName": self.table_name, "Item": pending}})
        client = self.table.meta.client
        try:
            client.transact_write_items(TransactItems=writes)
        except client.exceptions.TransactionCanceledException:
            return False
        return True

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
        item = {"pk": PARTITION, "sk": f"note#{monitor}#{window:012d}", "monitor": monitor, "at": at}
        item |= {"evidence": evidence[:1000], "expiration": int(at + NOTE_DAYS * DAY)}
        self.table.put_item(Item=to_item(item))
        if failing:
            self._blip(monitor, window, at, sorted(failing), sorted(healthy))

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

    def _blip(self, monitor: str, window: int, at: float, failing: list[str], healthy: list[str]) -> None:
        adds = {":m": {monitor}} | ({":h": set(healthy)} if healthy else {})
        before = self.table.update_item(
            Key={"pk": PARTITION, "sk": f"blip#{window:012d}#{','.join(failing)}"},
            UpdateExpression=" ".join(
                [
                    "SET #at = if_not_exists(#at, :at), failing = :f, expiration = :x",
                    "ADD monitors :m" + (", healthy :h" if healthy else ""),
                ]
            ),
            ExpressionAttributeNames={"#at": "at"},
            ExpressionAttributeValues=to_item({":at": at, ":f": failing, ":x": int(at + NOTE_DAYS * DAY)})
            | adds,
            ReturnValues="UPDATED_OLD",
        )
        if "monitors" in before.get("Attributes", {}):
            return  # the line is known: its count grows with the site's next publish
        # A new line: the home site's publish gate (statuspage.publish_gate's item) is told, and
        # its probe publishes within a minute instead of at the hourly publish.
        self.table.update_item(
            Key={"pk": SITE_GATE[0], "sk": SITE_GATE[1]},
            UpdateExpression="SET pending_at = :at",
            ExpressionAttributeValues=to_item({":at": at}),
        )

    def _put(self, item: dict, condition: str, values: dict, names: dict) -> bool:
        table = self.table
        try:
            table.put_item(
                Item=to_item(item),
                ConditionExpression=condition,
                ExpressionAttributeValues=to_item(values),
                ExpressionAttributeNames=names,
            )
        except table.meta.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

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


def vote_key(monitor: str, window: int, region: str) -> str:
    return f"vote#{monitor}#{window:012d}#{region}"


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
