"""Console pages of the WeCom connector, and the callback endpoint WeCom posts to."""

import logging

from django.contrib import messages
from django.http import HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from custos.access import policy
from custos.console.decorators import console_view
from custos.core.errors import InvalidInput
from custos.customers.models import Customer
from custos.org.models import Role
from custos.wecom import selectors, services, sync, tasks, transfers
from custos.wecom.models import SyncRun, Transfer

log = logging.getLogger(__name__)
MAX_CALLBACK_BYTES = 64 * 1024


@csrf_exempt
@require_http_methods(["GET", "POST"])
def callback(request):
    """WeCom's callback URL: GET checks the URL when it is saved in WeCom; POST carries events."""
    q = request.GET
    try:
        if request.method == "GET":
            echo = services.verify_url(
                msg_signature=q.get("msg_signature", ""), timestamp=q.get("timestamp", ""),
                nonce=q.get("nonce", ""), echostr=q.get("echostr", ""),
            )  # fmt: skip
            return HttpResponse(echo, content_type="text/plain; charset=utf-8")
        if len(request.body) > MAX_CALLBACK_BYTES:
            return HttpResponse("too large", status=413, content_type="text/plain")
        services.receive(body=request.body, msg_signature=q.get("msg_signature", ""), timestamp=q.get("timestamp", ""), nonce=q.get("nonce", ""))
    except services.Refused:
        return HttpResponseForbidden("refused", content_type="text/plain")
    # WeCom wants a fast empty 200 (or "success"); the work happens in the worker.
    return HttpResponse("success", content_type="text/plain")


@console_view
def overview(request):
    me = request.viewer
    data = selectors.overview(me)
    data["is_admin"] = me.role == Role.ADMIN
    data["callback_url"] = request.build_absolute_uri("/wecom/callback/")
    data["archive"] = selectors.archive(me)
    return render(request, "wecom/overview.html", data)


@require_POST
@console_view
def add_archive_key(request):
    from custos.wecom import archive_keys

    version = request.POST.get("version", "").strip()
    if not version.isdigit() or len(version) > 9:
        raise InvalidInput("publickey_ver 是一个正整数（企业微信在公钥旁显示）。")
    upload = request.FILES.get("pem")
    pem = upload.read(64 * 1024) if upload else request.POST.get("pem_text", "").encode()
    archive_keys.add_key(actor=request.viewer, version=int(version), pem=pem)
    messages.success(request, f"已保存 publickey_ver {version} 的私钥；该版本暂存的消息将随后导入。")
    return redirect("wecom:overview")


def _secret(request, name: str) -> str | None:
    return request.POST.get(name) or None


@require_POST
@console_view
def configure(request):
    p = request.POST
    services.configure(
        actor=request.viewer,
        corp_id=p.get("corp_id", ""),
        api_base=p.get("api_base", ""),
        agent_id=p.get("agent_id", ""),
        app_secret=_secret(request, "app_secret"),
        contact_secret=_secret(request, "contact_secret"),
        directory_secret=_secret(request, "directory_secret"),
        callback_token=_secret(request, "callback_token"),
        callback_aes_key=_secret(request, "callback_aes_key"),
        observers=[u for u in p.get("observers", "").replace("，", ",").replace("\n", ",").split(",")],
        enabled=p.get("enabled") == "on",
        transfers_enabled=p.get("transfers_enabled") == "on",
        app_messages_enabled=p.get("app_messages_enabled") == "on",
    )
    messages.success(request, "企业微信配置已保存。")
    return redirect("wecom:overview")


@require_POST
@console_view
def test(request):
    ok, message = services.test_connection(actor=request.viewer)
    (messages.success if ok else messages.error)(request, message)
    return redirect("wecom:overview")


@require_POST
@console_view
def start_sync(request, kind: str):
    services.require_admin(request.viewer)
    if kind not in SyncRun.Kind.values:
        raise InvalidInput("未知的同步类型。")
    row = sync.start(kind, request.viewer)
    tasks.run_sync(row.pk)
    messages.success(request, "同步已开始，进度见下方。")
    return redirect("wecom:overview")


@console_view
def sync_progress(request, run_id: int):
    row = selectors.sync_run(request.viewer, run_id)
    return render(request, "wecom/_sync.html", {"run": row})


@require_POST
@console_view
def retry_transfer(request, transfer_id: int):
    t = selectors.transfer(request.viewer, transfer_id)
    transfers.retry(actor=request.viewer, transfer=t)
    messages.success(request, "已重新向企业微信发起转接。")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        target = "wecom:overview"  # never a redirect to somewhere else's address
    return redirect(target)


def case_panel(request, case) -> str:
    """The WeCom state of each customer of a departure case (handover.panels)."""
    viewer = request.viewer
    rows = list(selectors.transfers_of_case(viewer, case.pk))
    if not rows:
        return ""
    customers = dict(Customer.objects.filter(pk__in=[t.customer_id for t in rows if t.customer_id]).values_list("pk", "name"))
    people = selectors.member_names({t.handover_userid for t in rows} | {t.takeover_userid for t in rows})
    for t in rows:
        t.customer_name = customers.get(t.customer_id, "")
        t.handover_name = people.get(t.handover_userid, t.handover_userid)
        t.takeover_name = people.get(t.takeover_userid, t.takeover_userid)
    counts = [(value, label, sum(1 for t in rows if t.status == value)) for value, label in Transfer.Status.choices]
    return render_to_string(
        "wecom/_case_transfers.html",
        {"rows": rows, "counts": [c for c in counts if c[2]], "can_retry": policy.may_manage(viewer, case.employee), "case": case},
        request=request,
    )
