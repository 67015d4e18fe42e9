"""Outside services for the scale tests, real ones: an S3-compatible server (moto's server mode on a
loopback port) and the machine's Redis (CUSTOS_TEST_REDIS_URL, redis://127.0.0.1:6379/0 by
default). Where Redis does not answer its tests are skipped, saying so; under CI=true that is a
failure."""

import logging
import os
import secrets
import socket
import time
import types

import pytest

from custos.archive import blobstore
from tests.archive.conftest import device, ev  # noqa: F401 - the signed work phone fixtures


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Recognisable credentials: tests look for them in every output and log line.
ACCESS_KEY = "AKIACUSTOSTESTKEY001"
SECRET_KEY = "custos-test-secret-Vh3q9ZL0pXwQ2m8R"


@pytest.fixture(scope="session")
def s3_server():
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(s3_server, monkeypatch):
    """A fresh bucket on the server, credentials in the environment as production sets them, and
    a plain boto3 client to look at what the server holds, behind Custos's back."""
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    bucket = f"custos-{secrets.token_hex(4)}"
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    client.create_bucket(Bucket=bucket)
    url = f"s3://{bucket}/attachments?endpoint={s3_server}&region=us-east-1"
    blobstore._cached.cache_clear()
    yield types.SimpleNamespace(url=url, bucket=bucket, client=client, endpoint=s3_server)
    blobstore._cached.cache_clear()


@pytest.fixture
def on_s3(s3, monkeypatch):
    """CUSTOS_BLOB_URL set to the bucket, as an operator would."""
    monkeypatch.setenv("CUSTOS_BLOB_URL", s3.url)
    return s3


REDIS_URL = os.environ.get("CUSTOS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_unavailable() -> str | None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        reason = f"Redis at {REDIS_URL.split('@')[-1]} does not answer ({exc})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {reason}: the jobs-on-Redis tests cannot run", pytrace=False)
        return reason
    return None


@pytest.fixture
def needs_redis():
    reason = redis_unavailable()
    if reason:
        pytest.skip(f"{reason}: jobs on Redis not tested (set CUSTOS_TEST_REDIS_URL)")
    return REDIS_URL


def wait_for(check, seconds=90.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not done within {seconds} s")
