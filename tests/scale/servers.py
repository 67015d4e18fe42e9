"""Starting `custos serve` processes for the many-process test and bench/load.py: each on a free
loopback port, all on the same database, Redis queue and data directory (keys, secret key, the
ledger's signing key), as several machines behind a load balancer share them."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(database_url: str, data_dir: str, redis_url: str, queue: str, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CUSTOS_", "DATABASE_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="custos.settings",
        DATABASE_URL=database_url,
        CUSTOS_DATA_DIR=data_dir,
        CUSTOS_REDIS_URL=redis_url,
        CUSTOS_HUEY_NAME=queue,
        CUSTOS_LOG_LEVEL="WARNING",
        **extra,
    )
    return env


class Serve:
    """One `custos serve` (gunicorn workers and a Huey worker) in its own process group."""

    def __init__(self, env: dict, log: Path, workers: int = 2):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [sys.executable, "-m", "custos.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--workers", str(workers)],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def wait_ready(self, seconds: float = 120) -> "Serve":
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"custos serve on {self.url} stopped (exit {self.process.returncode}); see {self.log.name}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/login/", timeout=5) as r:  # noqa: S310 - loopback
                    if r.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.3)
        raise RuntimeError(f"custos serve on {self.url} not ready after {seconds} s; see {self.log.name}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # serve stops its gunicorn and its worker
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.log.close()


def custos(env: dict, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """One `custos ...` command against the same database and data directory."""
    return subprocess.run(  # noqa: S603 - fixed argv, no shell
        [sys.executable, "-m", "custos.cli", *args], env=env, capture_output=True, text=True, timeout=timeout
    )
