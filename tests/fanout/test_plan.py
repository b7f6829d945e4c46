"""Shard planning: every monitor in exactly one shard, sizes bounded, assignments stable."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.fanout.plan import cycle_starts, delays, jump, plan_shards, shard_count

names = st.lists(st.text(min_size=1, max_size=12), min_size=0, max_size=300, unique=True)
capacities = st.integers(min_value=1, max_value=40)


def assignment(plan) -> dict[str, int]:
    return {name: shard.index for shard in plan.shards for name in shard.monitors}


@given(names, capacities)
def test_every_monitor_is_in_exactly_one_shard(monitors: list[str], capacity: int) -> None:
    plan = plan_shards(monitors, capacity=capacity)
    placed = [name for shard in plan.shards for name in shard.monitors]
    assert sorted(placed) == sorted(monitors)
    assert len(placed) == len(set(placed))


@given(names, capacities)
def test_no_shard_holds_more_than_its_capacity(monitors: list[str], capacity: int) -> None:
    plan = plan_shards(monitors, capacity=capacity)
    assert all(len(shard.monitors) <= capacity for shard in plan.shards)
    assert [s.index for s in plan.shards] == list(range(len(plan.shards)))


@given(names, capacities, st.text(min_size=1, max_size=12))
@settings(max_examples=300)
def test_adding_a_monitor_moves_no_other_while_no_shard_is_full(
    monitors: list[str], capacity: int, added: str
) -> None:
    if added in monitors:
        return
    before = plan_shards(monitors, capacity=capacity)
    after = plan_shards([*monitors, added], capacity=capacity)
    if not (before.fanned_out and after.fanned_out) or len(before.shards) != len(after.shards):
        return  # a new shard count is the next test's case
    if any(len(s.monitors) == capacity for s in after.shards):
        return  # a full shard may pass one monitor on; see the test after next
    old, new = assignment(before), assignment(after)
    assert {name: new[name] for name in old} == old


def test_a_new_shard_takes_its_monitors_from_the_others_and_moves_no_more() -> None:
    monitors = [f"m{i}" for i in range(3200)]
    before, after = plan_shards(monitors, capacity=400), plan_shards([*monitors, "m-new"], capacity=400)
    assert len(after.shards) == len(before.shards) + 1
    old, new = assignment(before), assignment(after)
    moved = [name for name in old if new[name] != old[name]]
    # Jump hashing moves about 1/K of the monitors, each to the new shard.
    assert len(moved) <= 1.3 * len(monitors) / len(after.shards)
    assert {new[name] for name in moved} == {len(after.shards) - 1}


def test_ten_thousand_monitors_grow_by_one_without_a_move() -> None:
    monitors = [f"site-{i}.example" for i in range(10_000)]
    before = plan_shards(monitors)
    after = plan_shards([*monitors, "site-new.example"])
    old, new = assignment(before), assignment(after)
    moved = sum(1 for name in old if new[name] != old[name])
    assert len(before.shards) == len(after.shards) == shard_count(10_000)
    assert moved <= sum(1 for s in after.shards if len(s.monitors) == 400)  # only past a full shard
    assert max(len(s.monitors) for s in after.shards) <= 400


@given(names)
def test_small_configs_keep_the_single_invocation(monitors: list[str]) -> None:
    plan = plan_shards(monitors, capacity=400)
    assert not plan.fanned_out and len(plan.shards) == 1


@given(st.integers(min_value=0, max_value=2**64 - 1), st.integers(min_value=1, max_value=200))
def test_jump_hash_keeps_a_key_or_moves_it_to_the_new_bucket(k: int, buckets: int) -> None:
    before, after = jump(k, buckets), jump(k, buckets + 1)
    assert 0 <= before < buckets
    assert after in (before, buckets)


@given(st.integers(min_value=1, max_value=100), st.floats(min_value=1, max_value=60), st.floats(0, 60))
def test_delays_spread_inside_the_room_the_bound_leaves(count: int, period: float, bound: float) -> None:
    found = delays(count, period, bound)
    assert len(found) == count and found == sorted(found)
    assert all(d >= 0 and d + bound <= max(period, bound) for d in found)


def test_sub_minute_cycles_start_every_period() -> None:
    assert cycle_starts(10.0) == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0]
    assert cycle_starts(None) == [0.0]
