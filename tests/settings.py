"""Settings for the test suite: SQLite by default, PostgreSQL when CUSTOS_TEST_DATABASE=postgres.

Where PostgreSQL is asked for but does not answer, the suite falls back to SQLite and every test
is skipped with the reason (tests/conftest.py), except under CI=true, where that is a failure.
"""

import os
import tempfile

os.environ.setdefault("CUSTOS_DATA_DIR", tempfile.mkdtemp(prefix="custos-test-"))
os.environ.pop("DATABASE_URL", None)

POSTGRES_WANTED = os.environ.get("CUSTOS_TEST_DATABASE") == "postgres"
POSTGRES_URL = os.environ.get("CUSTOS_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
POSTGRES_UNAVAILABLE = None

if POSTGRES_WANTED:
    import psycopg

    try:
        psycopg.connect(POSTGRES_URL.replace("postgres://", "postgresql://", 1), connect_timeout=3).close()
    except psycopg.Error as exc:
        POSTGRES_UNAVAILABLE = f"PostgreSQL at {POSTGRES_URL.split('@')[-1]} does not answer ({str(exc).strip().splitlines()[0]})"
        if os.environ.get("CI") == "true":
            raise SystemExit(f"CI=true and {POSTGRES_UNAVAILABLE}: the PostgreSQL half of the suite cannot run") from exc
    else:
        os.environ["DATABASE_URL"] = POSTGRES_URL

from custos.settings import *  # noqa: E402, F403

# Fast hashing for the hundreds of users tests create; test_auth checks argon2 is what production uses.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]  # noqa: F405
HUEY = {**HUEY, "immediate": True}  # noqa: F405
CUSTOS_LOGIN_MAX_FAILURES = 5
# The webhook tests post to real receivers on this machine: loopback is allowed here, as an operator
# would allow an internal receiver. tests/alerts/test_egress.py takes it away to see the refusals.
CUSTOS_WEBHOOK_ALLOW_PRIVATE = False
CUSTOS_WEBHOOK_ALLOW_NETWORKS = ["127.0.0.0/8", "::1/128"]

if POSTGRES_WANTED and not POSTGRES_UNAVAILABLE:
    # Test databases named after the checkout: two clones testing against one server at the same
    # time (a CI run beside a developer's) must not drop and refill each other's databases;
    # CUSTOS_TEST_DB_TAG separates two runs in one checkout the same way.
    import hashlib
    import pathlib

    _checkout = hashlib.sha1(str(pathlib.Path(__file__).resolve().parent.parent).encode()).hexdigest()[:8]
    _tag = "".join(c for c in os.environ.get("CUSTOS_TEST_DB_TAG", "") if c.isalnum())[:20]
    DATABASES["default"]["TEST"] = {"NAME": f"test_custos_{_checkout}{'_' + _tag if _tag else ''}"}  # noqa: F405
