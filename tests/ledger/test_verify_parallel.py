"""verify in several processes: the same answers as in one, found in the same order."""

import faulthandler
import multiprocessing
import signal
import threading

import pytest

from custos.ledger import heads, scan
from custos.ledger.verify import Problem, verify
from tests.ledger.conftest import dba, fill


@pytest.fixture
def small_ranges(monkeypatch):
    monkeypatch.setattr(scan, "RANGE", 1024)
    monkeypatch.setattr(scan, "CHUNK", 512)


def problem(jobs):
    with pytest.raises(Problem) as caught:
        verify(jobs=jobs)
    return str(caught.value)


def test_inside_a_transaction_it_stays_in_one_process(db, small_ranges):
    fill(3000)
    assert not scan.can_fork("default")  # the workers could not see this test's uncommitted rows
    assert verify(jobs=4).size == 3000


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_parallel_verify_agrees_and_names_the_first_problem(small_ranges):
    fill(2500)
    heads.sign_head()  # a head inside the third range, in a partial block
    fill(2500, start=2500)
    heads.sign_head()
    assert scan.can_fork("default")
    assert verify(jobs=2) == verify(jobs=1)

    with dba() as cursor:
        cursor.execute("UPDATE ledger_entry SET kind = 'forged' WHERE seq IN (1500, 4000)")
    assert problem(jobs=2) == problem(jobs=1) == "entry 1500: leaf_hash does not match its columns"


def _sigterm_is_default(_):
    return signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_sigterm_handler_of_the_caller_does_not_keep_workers_alive(small_ranges):
    # The caller's process may catch SIGTERM (a Huey consumer does; a test that had run
    # `custos simulate` in-process left KeyboardInterrupt on it). Workers must still die of the
    # pool's SIGTERM (on Ctrl-C), and a problem found must end verify without waiting forever.
    fill(3000)
    with dba() as cursor:
        cursor.execute("UPDATE ledger_entry SET kind = 'forged' WHERE seq = 100")
    saved = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        pool = multiprocessing.get_context("fork").Pool(
            2, initializer=scan._own_connection, initargs=("default",)
        )
        assert pool.map(_sigterm_is_default, range(4)) == [True] * 4
        pool.close()
        pool.join()
        found: list[str] = []
        worker = threading.Thread(target=lambda: found.append(problem(jobs=2)), daemon=True)
        worker.start()
        worker.join(timeout=120)
        if worker.is_alive():
            faulthandler.dump_traceback(all_threads=True)  # where it hangs, for the CI log
        assert not worker.is_alive(), "parallel verify hung after it found a problem"
        assert found == ["entry 100: leaf_hash does not match its columns"]
        assert multiprocessing.active_children() == []  # the pool's workers ended
    finally:
        signal.signal(signal.SIGTERM, saved)


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_workers_accept_a_redaction_and_catch_a_body_removed_without_one(small_ranges):
    from custos.ledger.services import redact

    fill(3000)
    redact([2100], "retention: chats older than 3 years")  # in the third range: a worker looks it up
    assert verify(jobs=2) == verify(jobs=1)
    with dba() as cursor:
        cursor.execute("UPDATE ledger_entry SET payload = NULL WHERE seq = 2200")
    expected = "entry 2200: payload removed without a retention.redacted entry naming it"
    assert problem(jobs=2) == problem(jobs=1) == expected
