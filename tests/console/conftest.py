from tests.customers.conftest import make_customer, next_phone  # noqa: F401  (fixtures shared)
