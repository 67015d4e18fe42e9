"""REST endpoints of devices (/api/v1/devices/...)."""

from ninja import Router

router = Router(tags=["devices"])
