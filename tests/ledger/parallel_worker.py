"""An appender process for test_parallel.py. Imports nothing of Django at module level: a spawned
interpreter loads this module before it has set Django up."""

import os

APPENDS = 200


def worker(settings_dict: dict, number: int, barrier, results) -> None:
    """Append APPENDS times, one transaction each, on the test database it is handed."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    import django

    django.setup()
    from django.db import connections

    from custos.ledger.services import Event, append_batch

    connections["default"].settings_dict.update(settings_dict)
    barrier.wait()
    mine = []
    for i in range(APPENDS):
        if i % 10 == 0:  # every tenth append is made by every worker: one entry for all of them
            events = [Event("test.shared", {"i": i}, source="shared", source_id=str(i))]
        else:
            events = [Event("test.own", {"w": number, "i": i}, source=f"worker{number}", source_id=str(i))]
        mine.extend((a.entry.seq, a.duplicate) for a in append_batch(events))
    connections["default"].close()
    results.put((number, mine))
