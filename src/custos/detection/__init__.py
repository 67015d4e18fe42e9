"""Sensitive-word detection: disguise-resistant matching of a categorised lexicon, and contact leaks.

The API is `Engine` (build once, share between threads) and `Hit`; importing them from here is lazy
so that Django loading the app does not pay for OpenCC, pypinyin and the character tables.
"""

__all__ = ["Engine", "Hit"]


def __getattr__(name: str):
    if name in __all__:
        from custos.detection import engine

        return getattr(engine, name)
    raise AttributeError(name)
