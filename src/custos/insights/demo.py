"""The demo's insights."""


def build(seed: int) -> dict:
    return {}
