"""REST endpoints of the WeCom connector (mounted at /api/v1/wecom).

GET  /status                   the connection (never its secrets), syncs, callback and transfer counts
PUT  /config                   an admin sets it up (secrets: omitted or empty keeps the stored one)
POST /test                     fetch a token with each secret; says what WeCom answered
POST /sync/{kind}              start a directory or contacts sync; poll GET /sync/runs/{id}
GET  /cases/{case_id}/transfers  each customer's WeCom state in a departure case
POST /transfers/{id}/retry     ask WeCom again for a failed or refused transfer
"""

from datetime import datetime

from ninja import Field, Router, Schema, Status

from custos.api.auth import viewer
from custos.core.errors import InvalidInput, NotFound
from custos.wecom import selectors, services, sync, tasks, transfers
from custos.wecom.models import SyncRun

router = Router(tags=["wecom"])


class ConfigIn(Schema):
    corp_id: str = Field(..., max_length=64)
    api_base: str = Field("", max_length=200)
    agent_id: str = Field("", max_length=12)
    app_secret: str | None = Field(None, max_length=128)
    contact_secret: str | None = Field(None, max_length=128)
    directory_secret: str | None = Field(None, max_length=128)
    callback_token: str | None = Field(None, max_length=32)
    callback_aes_key: str | None = Field(None, max_length=43)
    observers: list[str] | None = Field(None, max_length=200)
    enabled: bool | None = None
    transfers_enabled: bool | None = None
    app_messages_enabled: bool | None = None


class SyncOut(Schema):
    id: int
    kind: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    done: int
    total: int
    percent: int
    counts: dict
    error: str


class StatusOut(Schema):
    configured: bool
    corp_id: str
    api_base: str
    agent_id: str
    enabled: bool
    transfers_enabled: bool
    app_messages_enabled: bool
    secrets_set: dict[str, bool]
    callback_set: bool
    last_test_at: datetime | None
    last_test_ok: bool | None
    last_test_message: str
    members: dict
    callbacks: dict
    transfers: dict
    last_sync: dict[str, SyncOut | None]


class TestOut(Schema):
    ok: bool
    message: str


class TransferOut(Schema):
    id: int
    kind: str
    status: str
    customer_id: int | None
    external_userid: str
    chat_id: str
    handover_userid: str
    takeover_userid: str
    errcode: int | None
    reason: str
    attempts: int
    sent_at: datetime | None
    settled_at: datetime | None


def _status(me) -> dict:
    data = selectors.overview(me)
    conn = data["connection"]
    return {
        "configured": data["configured"], "corp_id": conn.corp_id, "api_base": conn.api_base, "agent_id": conn.agent_id,
        "enabled": conn.enabled, "transfers_enabled": conn.transfers_enabled, "app_messages_enabled": conn.app_messages_enabled,
        "secrets_set": data["secrets_set"], "callback_set": data["callback_set"], "last_test_at": conn.last_test_at,
        "last_test_ok": conn.last_test_ok, "last_test_message": conn.last_test_message, "members": data["members"],
        "callbacks": data["callback_counts"], "transfers": data["transfers"], "last_sync": data["last_sync"],
    }  # fmt: skip


@router.get("/status", response=StatusOut)
def status(request):
    return _status(viewer(request))


@router.put("/config", response=StatusOut)
def configure(request, body: ConfigIn):
    me = viewer(request)
    services.configure(actor=me, **body.dict())
    return _status(me)


@router.post("/test", response=TestOut)
def test(request):
    ok, message = services.test_connection(actor=viewer(request))
    return {"ok": ok, "message": message}


@router.post("/sync/{kind}", response={202: SyncOut})
def start_sync(request, kind: str):
    me = viewer(request)
    services.require_admin(me)
    if kind not in SyncRun.Kind.values:
        raise InvalidInput(f"kind: one of {', '.join(SyncRun.Kind.values)}")
    row = sync.start(kind, me)
    tasks.run_sync(row.pk)
    row.refresh_from_db()
    return Status(202, row)


@router.get("/sync/runs/{run_id}", response=SyncOut)
def sync_run(request, run_id: int):
    row = selectors.sync_run(viewer(request), run_id)
    if row is None:
        raise NotFound("No such sync.")
    return row


@router.get("/cases/{case_id}/transfers", response=list[TransferOut])
def case_transfers(request, case_id: int):
    return list(selectors.transfers_of_case(viewer(request), case_id))


@router.post("/transfers/{transfer_id}/retry", response=TransferOut)
def retry(request, transfer_id: int):
    me = viewer(request)
    return transfers.retry(actor=me, transfer=selectors.transfer(me, transfer_id))
