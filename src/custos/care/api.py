"""REST endpoints of care (/api/v1/care/...)."""

from ninja import Router

router = Router(tags=["care"])
