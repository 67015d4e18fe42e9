"""A real S3-compatible server for the blob store tests: moto's server mode on a loopback port."""

import logging
import secrets
import socket
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
