"""Care's tests share the pool's customer fixtures (customers created some days ago)."""

from tests.pool.conftest import body, days_ago, make_customer  # noqa: F401  (fixtures shared)
