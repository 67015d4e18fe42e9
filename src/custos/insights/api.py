"""REST endpoints of insights (/api/v1/insights/...)."""

from ninja import Router

router = Router(tags=["insights"])
