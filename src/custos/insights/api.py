"""REST endpoints of insights (/api/v1/insights/...): the dashboards' figures as JSON.

Every figure is read from the latest roll-up in the caller's scope; a unit outside it is a 404.
"""

from ninja import Path, Query, Router

from custos.api.auth import viewer
from custos.customers.schemas import BIGINT
from custos.insights import selectors
from custos.org.selectors import get_unit

router = Router(tags=["insights"])


def _panels(data: dict) -> dict:
    return {
        **{k: v for k, v in data.items() if k != "panels"},
        "panels": [p.as_dict() for p in data["panels"]],
    }


@router.get(
    "/company", summary="The owner's dashboard: stores compared, trends, top risks (in the caller's scope)"
)
def company(request):
    return _panels(selectors.company(viewer(request)))


@router.get("/team", summary="The store manager's dashboard: staff concentration, activity, risks")
def team(request):
    return _panels(selectors.team(viewer(request)))


@router.get("/mine", summary="The salesperson's dashboard: own customers at risk, own activity")
def mine(request):
    return _panels(selectors.mine(viewer(request)))


@router.get("/risk", summary="Customers ranked by churn score, with reasons and points; weights")
def risk(request, limit: int = Query(50, ge=1, le=500), solo: bool = False):
    from custos.insights.scoring import WEIGHTS

    return {"day": selectors.latest_day(), "weights": WEIGHTS,
            "rows": selectors.risk_list(viewer(request), limit=limit, solo=solo)}  # fmt: skip


@router.get("/units/{unit_id}/concentration", summary="Concentration risk of one unit and the units below it")
def unit_concentration(request, unit_id: int = Path(..., ge=1, le=BIGINT)):
    me = viewer(request)
    unit = get_unit(me, unit_id)
    return {"day": selectors.latest_day(), "units": selectors.concentration(me, unit=unit)}


@router.get("/staff", summary="Staff activity: response times, unanswered, follow-ups, completeness, alerts")
def staff(request):
    return {"day": selectors.latest_day(), "rows": selectors.staff_activity(viewer(request))}


@router.get("/trends", summary="Weekly trends: alerts, customers gained and lost, pool, handover retention")
def trends(request):
    return {"day": selectors.latest_day(), **selectors.trends(viewer(request))}
