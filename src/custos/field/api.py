"""REST endpoints of field (/api/v1/field/...)."""

from ninja import Router

router = Router(tags=["field"])
