"""Real parallel appenders on PostgreSQL: separate processes, separate connections, one gapless log."""

import multiprocessing
import queue
import time

import pytest
from django.db import connection

from custos.ledger.models import Entry, LedgerState
from custos.ledger.verify import verify
from tests.ledger.parallel_worker import APPENDS, worker

WORKERS = 4


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_parallel_processes_leave_no_gap_or_duplicate():
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(WORKERS), ctx.Queue()
    settings_dict = {
        k: v for k, v in connection.settings_dict.items() if k in ("NAME", "USER", "PASSWORD", "HOST", "PORT")
    }
    processes = [
        ctx.Process(target=worker, args=(settings_dict, n, barrier, results)) for n in range(WORKERS)
    ]
    for p in processes:
        p.start()
    outcomes, deadline = {}, time.monotonic() + 90
    while len(outcomes) < WORKERS:
        try:
            number, mine = results.get(timeout=1)
            outcomes[number] = mine
        except queue.Empty:
            assert not any(p.exitcode for p in processes), "a worker failed (its traceback is above)"
            assert time.monotonic() < deadline, "workers did not finish"
    for p in processes:
        p.join(timeout=30)
        assert p.exitcode == 0

    shared = APPENDS // 10
    total = WORKERS * (APPENDS - shared) + shared
    seqs = list(Entry.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(total))
    assert LedgerState.objects.get(pk=1).size == total

    # each shared event became one entry; exactly one worker appended it, the others got it back
    shared_entries = dict(Entry.objects.filter(source="shared").values_list("source_id", "seq"))
    assert len(shared_entries) == shared
    for i in range(0, APPENDS, 10):
        claims = [outcomes[n][i] for n in range(WORKERS)]
        assert {seq for seq, _dup in claims} == {shared_entries[str(i)]}
        assert sorted(dup for _seq, dup in claims) == [False] + [True] * (WORKERS - 1)

    # the workers really ran at once: their entries interleave in the log
    runs = [[seq for seq, dup in outcomes[n] if not dup] for n in range(WORKERS)]
    assert any(run[-1] - run[0] + 1 > len(run) for run in runs)

    # and the tree built by interleaved appenders is the tree of the log
    assert verify().size == total
