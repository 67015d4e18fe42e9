"""Django's flush, able to empty the append-only ledger: it lifts the triggers for the flush only.

Used by the test suite between transactional tests, and by an operator wiping a scratch
database. Like any DDL, it needs the database owner's rights.
"""

from django.core.management.commands.flush import Command as FlushCommand
from django.db import connections

from custos.ledger import triggers


class Command(FlushCommand):
    def handle(self, **options):
        connection = connections[options["database"]]
        triggers.remove(connection)
        try:
            super().handle(**options)
        finally:
            triggers.install(connection)
