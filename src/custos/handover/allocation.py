"""Who gets which customer: the allocation strategies, as pure functions.

Shared by departure handover, in-service transfer, rotation and (later) the public pool: none of
them touches the database. Callers build `Candidate`s (what is handed out) and `Receiver`s (who
may take them, with their current load and today's cap) and get an `Allocation` back.

    manual          the caller says who gets each candidate
    round_robin     in turn over the chosen receivers
    weighted        weighted random; the seed is part of the result, so a draw replays exactly
    quota           N each, in the order the receivers were chosen; the rest stays unassigned
    least_loaded    always to whoever holds the fewest customers at that moment
    by_rule         grades mapped to a class of receiver ("senior"); others to the least loaded

Every strategy respects each receiver's remaining daily capacity and never picks an ineligible
receiver (inactive, resigning, departed, frozen: the caller marks them). A candidate that cannot
be placed is left unassigned with a reason, never forced onto someone.
"""

import random
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

MANUAL, ROUND_ROBIN, WEIGHTED, QUOTA, LEAST_LOADED, BY_RULE = (
    "manual",
    "round_robin",
    "weighted",
    "quota",
    "least_loaded",
    "by_rule",
)
STRATEGIES = (MANUAL, ROUND_ROBIN, WEIGHTED, QUOTA, LEAST_LOADED, BY_RULE)

# Reasons a candidate stays where it is (machine codes; the faces translate them).
NO_RECEIVER = "no_receiver"
OVER_CAP = "over_cap"
QUOTA_FULL = "quota_full"
NOT_CHOSEN = "not_chosen"
INELIGIBLE = "ineligible_receiver"
NO_MATCH = "no_matching_receiver"


@dataclass(frozen=True)
class Candidate:
    id: int
    grade: str = ""
    # Who must not receive it (the current owner).
    exclude: frozenset[int] = frozenset()


@dataclass
class Receiver:
    id: int
    load: int = 0
    # How many more this receiver may take today; None: no cap.
    capacity: int | None = None
    weight: float = 1.0
    classes: frozenset[str] = frozenset()
    eligible: bool = True


@dataclass
class Allocation:
    strategy: str
    seed: int | None
    assigned: dict[int, int] = field(default_factory=dict)
    unassigned: dict[int, str] = field(default_factory=dict)

    def by_receiver(self) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        for candidate, receiver in self.assigned.items():
            out.setdefault(receiver, []).append(candidate)
        return out


class _Pool:
    """The receivers still able to take a candidate, with their loads updated as we go."""

    def __init__(self, receivers: Iterable[Receiver]):
        self.receivers = [r for r in receivers if r.eligible]
        self.load = {r.id: r.load for r in self.receivers}
        self.left = {r.id: r.capacity for r in self.receivers}

    def open(self, candidate: Candidate) -> list[Receiver]:
        return [
            r for r in self.receivers if r.id not in candidate.exclude and (self.left[r.id] is None or self.left[r.id] > 0)
        ]

    def give(self, allocation: Allocation, candidate: Candidate, receiver: Receiver) -> None:
        allocation.assigned[candidate.id] = receiver.id
        self.load[receiver.id] += 1
        if self.left[receiver.id] is not None:
            self.left[receiver.id] -= 1

    def why_not(self, candidate: Candidate) -> str:
        if not [r for r in self.receivers if r.id not in candidate.exclude]:
            return NO_RECEIVER
        return OVER_CAP


def _least_loaded(pool: _Pool, options: list[Receiver]) -> Receiver:
    # Ties go to the receiver chosen first, so the result does not depend on dict order.
    return min(options, key=lambda r: (pool.load[r.id], pool.receivers.index(r)))


def allocate(
    strategy: str,
    candidates: Iterable[Candidate],
    receivers: Iterable[Receiver],
    *,
    manual: Mapping[int, int] | None = None,
    seed: int | None = None,
    quota: int | None = None,
    rule: Mapping[str, str] | None = None,
) -> Allocation:
    """Allocate `candidates` (in the order given) to `receivers`. See the module text."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}")
    candidates = list(candidates)
    receivers = list(receivers)
    if strategy == WEIGHTED and seed is None:
        seed = secrets.randbits(48)
    allocation = Allocation(strategy=strategy, seed=seed if strategy == WEIGHTED else None)
    pool = _Pool(receivers)
    rng = random.Random(seed)
    turn = 0
    given: dict[int, int] = {}
    ineligible = {r.id for r in receivers if not r.eligible}

    for candidate in candidates:
        options = pool.open(candidate)
        if strategy == MANUAL:
            wanted = (manual or {}).get(candidate.id)
            if wanted is None:
                allocation.unassigned[candidate.id] = NOT_CHOSEN
            elif wanted in ineligible or wanted in candidate.exclude:
                allocation.unassigned[candidate.id] = INELIGIBLE
            else:
                match = [r for r in options if r.id == wanted]
                if match:
                    pool.give(allocation, candidate, match[0])
                else:
                    known = any(r.id == wanted for r in pool.receivers)
                    allocation.unassigned[candidate.id] = OVER_CAP if known else INELIGIBLE
            continue
        if strategy == QUOTA:
            options = [r for r in options if given.get(r.id, 0) < (quota or 0)]
            if not options:
                allocation.unassigned[candidate.id] = QUOTA_FULL if pool.open(candidate) else pool.why_not(candidate)
                continue
        if not options:
            allocation.unassigned[candidate.id] = pool.why_not(candidate)
            continue
        if strategy == ROUND_ROBIN:
            # The next receiver in turn that can still take this candidate.
            order = pool.receivers
            for step in range(len(order)):
                receiver = order[(turn + step) % len(order)]
                if receiver in options:
                    turn = (turn + step + 1) % len(order)
                    break
        elif strategy == WEIGHTED:
            weights = [max(r.weight, 0.0) for r in options]
            if sum(weights) <= 0:
                allocation.unassigned[candidate.id] = NO_RECEIVER
                continue
            receiver = rng.choices(options, weights=weights, k=1)[0]
        elif strategy == QUOTA:
            receiver = options[0]
        elif strategy == LEAST_LOADED:
            receiver = _least_loaded(pool, options)
        else:  # BY_RULE
            wanted_class = (rule or {}).get(candidate.grade)
            if wanted_class:
                options = [r for r in options if wanted_class in r.classes]
                if not options:
                    allocation.unassigned[candidate.id] = NO_MATCH
                    continue
            receiver = _least_loaded(pool, options)
        given[receiver.id] = given.get(receiver.id, 0) + 1
        pool.give(allocation, candidate, receiver)
    return allocation
