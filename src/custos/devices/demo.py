"""The demo's devices."""


def build(seed: int) -> dict:
    return {}
