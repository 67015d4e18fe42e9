"""The demo's care."""


def build(seed: int) -> dict:
    return {}
