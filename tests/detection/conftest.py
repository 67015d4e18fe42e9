import pytest

from custos.detection.engine import Engine


@pytest.fixture(scope="session")
def engine() -> Engine:
    return Engine.from_default()


@pytest.fixture(scope="session")
def categories(engine):
    def scan(text: str, role: str | None = "staff") -> set[str]:
        return {hit.category for hit in engine.scan(text, sender_role=role)}

    return scan
