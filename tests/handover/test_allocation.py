"""The allocation strategies, as pure functions: no database."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custos.handover import allocation as a
from custos.handover.allocation import Candidate, Receiver


def cands(n, grade="C", owner=99):
    return [Candidate(id=i, grade=grade, exclude=frozenset({owner})) for i in range(1, n + 1)]


def test_round_robin_takes_turns():
    result = a.allocate(a.ROUND_ROBIN, cands(5), [Receiver(10), Receiver(20)])
    assert result.assigned == {1: 10, 2: 20, 3: 10, 4: 20, 5: 10}


def test_least_loaded_fills_the_emptiest_first():
    result = a.allocate(a.LEAST_LOADED, cands(4), [Receiver(10, load=3), Receiver(20, load=0)])
    assert result.by_receiver() == {20: [1, 2, 3], 10: [4]}


def test_quota_gives_n_each_and_leaves_the_rest():
    result = a.allocate(a.QUOTA, cands(5), [Receiver(10), Receiver(20)], quota=2)
    assert result.by_receiver() == {10: [1, 2], 20: [3, 4]}
    assert result.unassigned == {5: a.QUOTA_FULL}


def test_daily_cap_is_respected():
    result = a.allocate(a.ROUND_ROBIN, cands(5), [Receiver(10, capacity=1), Receiver(20, capacity=2)])
    assert result.by_receiver() == {10: [1], 20: [2, 3]}
    assert result.unassigned == {4: a.OVER_CAP, 5: a.OVER_CAP}


def test_ineligible_staff_never_receive():
    for strategy in (a.ROUND_ROBIN, a.LEAST_LOADED, a.WEIGHTED, a.BY_RULE):
        result = a.allocate(strategy, cands(6), [Receiver(10, eligible=False), Receiver(20)], seed=1)
        assert set(result.assigned.values()) == {20}
    manual = a.allocate(a.MANUAL, cands(2), [Receiver(10, eligible=False), Receiver(20)], manual={1: 10, 2: 20})
    assert manual.assigned == {2: 20} and manual.unassigned == {1: a.INELIGIBLE}


def test_the_owner_is_never_a_receiver():
    result = a.allocate(a.ROUND_ROBIN, cands(3, owner=10), [Receiver(10)])
    assert result.assigned == {} and set(result.unassigned.values()) == {a.NO_RECEIVER}


def test_weighted_draw_replays_from_its_seed():
    receivers = [Receiver(10, weight=1), Receiver(20, weight=3)]
    first = a.allocate(a.WEIGHTED, cands(200), receivers)
    assert first.seed is not None
    again = a.allocate(a.WEIGHTED, cands(200), [Receiver(10, weight=1), Receiver(20, weight=3)], seed=first.seed)
    assert again.assigned == first.assigned
    # Weight 3 against 1, over twenty fixed draws of 200 (one random draw fell below 2:1 now and then).
    totals = {10: 0, 20: 0}
    for seed in range(1, 21):
        for k, v in a.allocate(a.WEIGHTED, cands(200), receivers, seed=seed).by_receiver().items():
            totals[k] += len(v)
    assert 2.6 < totals[20] / totals[10] < 3.4


def test_by_rule_sends_grade_a_to_seniors():
    candidates = [Candidate(1, "A"), Candidate(2, "C"), Candidate(3, "A"), Candidate(4, "B")]
    receivers = [Receiver(10), Receiver(20, classes=frozenset({"senior"}), load=50)]
    result = a.allocate(a.BY_RULE, candidates, receivers, rule={"A": "senior"})
    assert result.assigned[1] == 20 and result.assigned[3] == 20
    assert result.assigned[2] == 10 and result.assigned[4] == 10
    no_senior = a.allocate(a.BY_RULE, [Candidate(1, "A")], [Receiver(10)], rule={"A": "senior"})
    assert no_senior.unassigned == {1: a.NO_MATCH}


def test_unknown_strategy_is_refused():
    with pytest.raises(ValueError):
        a.allocate("lottery", [], [])


@given(
    n=st.integers(0, 40),
    caps=st.lists(st.one_of(st.none(), st.integers(0, 10)), min_size=1, max_size=5),
    strategy=st.sampled_from([a.ROUND_ROBIN, a.LEAST_LOADED, a.WEIGHTED, a.BY_RULE]),
    seed=st.integers(0, 2**32),
)
def test_every_candidate_is_placed_once_or_said_why(n, caps, strategy, seed):
    receivers = [Receiver(100 + i, capacity=c) for i, c in enumerate(caps)]
    result = a.allocate(strategy, cands(n), receivers, seed=seed)
    assert set(result.assigned) | set(result.unassigned) == set(range(1, n + 1))
    assert not set(result.assigned) & set(result.unassigned)
    for r in receivers:
        if r.capacity is not None:
            assert len(result.by_receiver().get(r.id, [])) <= r.capacity
