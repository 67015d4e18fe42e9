"""Masking for display (脱敏): enough to recognise, not enough to copy."""


def mask_phone(value: str) -> str:
    digits = value.lstrip("+")
    if len(digits) >= 11:
        return f"{digits[-11:-8]}****{digits[-4:]}"
    if len(digits) >= 7:
        return f"{digits[:3]}****{digits[-2:]}"
    return "****"


def mask_text(value: str, keep: int = 1) -> str:
    if not value:
        return ""
    if len(value) <= keep * 2:
        return value[0] + "*" * (len(value) - 1)
    return value[:keep] + "*" * max(3, len(value) - keep * 2) + value[-keep:]
