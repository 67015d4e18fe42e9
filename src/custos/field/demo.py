"""The demo's field."""


def build(seed: int) -> dict:
    return {}
