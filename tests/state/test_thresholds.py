"""Consecutive thresholds decide UP and DOWN; steady states change nothing (and cost no write)."""

from chalicelib.state.thresholds import DOWN, UNKNOWN, UP, MonitorState, Transition, fold_check


def run(results, failure_threshold=3, success_threshold=2, state=None):
    state = state or MonitorState()
    changes = []
    for i, ok in enumerate(results):
        state, changed = fold_check(
            state, ok, None if ok else f"fail {i}", float(i), failure_threshold, success_threshold
        )
        if changed:
            changes.append((i, state.status))
    return state, changes


def test_down_only_after_failure_threshold_consecutive_failures():
    state, changes = run([False, False, True, False, False, False])
    assert changes == [(5, DOWN)]
    assert state.reason == "fail 5" and state.since == 5.0


def test_up_needs_success_threshold_consecutive_good_cycles():
    state, changes = run([False] * 3 + [True, False, True, True], failure_threshold=3, success_threshold=2)
    assert changes == [(2, DOWN), (6, UP)]
    assert state.reason is None


def test_steady_state_is_unchanged_so_nothing_is_written():
    state, _ = run([True, True])
    again, changed = fold_check(state, True, None, 99.0, 3, 2)
    assert again == state and not changed
    down, _ = run([False] * 3)
    still, changed = fold_check(down, False, "other reason", 99.0, 3, 2)
    assert still == down and not changed


def test_only_changes_involving_down_are_published():
    assert Transition("web", UNKNOWN, DOWN, "r", 0).publishable
    assert Transition("web", DOWN, UP, "r", 0).publishable
    assert not Transition("web", UNKNOWN, UP, "r", 0).publishable
