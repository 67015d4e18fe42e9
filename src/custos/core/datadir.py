"""The data directory (CUSTOS_DATA_DIR, ./var by default) and the secrets generated into it.

Secrets are created on first use with mode 0600 and reused afterwards, so a second `make run`
keeps sessions, keys and data. An environment variable always wins over a file.
"""

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path


def data_dir() -> Path:
    path = Path(os.environ.get("CUSTOS_DATA_DIR") or Path.cwd() / "var").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Create `path` with mode 0600 without a window where it is readable by others."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def private_file(name: str, make: Callable[[], bytes]) -> str:
    """The content of DATA_DIR/name, created 0600 from `make()` on first use."""
    path = data_dir() / name
    if not path.exists():
        with contextlib.suppress(FileExistsError):  # another process made it first: use theirs
            write_private(path, make())
    return path.read_text().strip()


def secret_file(name: str, nbytes: int = 48) -> str:
    """A random secret kept in DATA_DIR/name, generated on first use."""
    return private_file(name, lambda: secrets.token_urlsafe(nbytes).encode())
