"""Console pages of the archive: conversations, a conversation read like a chat, search, attachments."""

import contextlib

from django.contrib import messages
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from custos.access.scope import scope_of
from custos.archive import blobs, selectors, services
from custos.archive.models import Blob
from custos.archive.schemas import MONEY_TYPES
from custos.console.decorators import console_view
from custos.core import byteranges
from custos.core.errors import NotFound
from custos.core.paging import page_ahead, page_of
from custos.core.query import day_bound, id_or_none
from custos.customers import selectors as customers_selectors
from custos.customers.selectors import get_customer
from custos.ledger.services import append
from custos.org.models import Role
from custos.org.selectors import employees_visible, units_visible

PAGE_SIZE = 30
CHAT_PAGE = 200
# Shown in the page; anything else is downloaded, never rendered by the browser (no HTML, no SVG).
INLINE = ("image/png", "image/jpeg", "image/gif", "image/webp", "audio/", "video/")


def _staff_choices(viewer):
    return [(e.pk, f"{e.name} · {e.unit.name}") for e in employees_visible(viewer).exclude(role=Role.AUDITOR)]


def _decorate(items) -> list:
    stored = set(Blob.objects.filter(sha256__in=[m.attachment_sha256 for m in items if m.attachment_sha256]).values_list("sha256", flat=True))
    for m in items:
        m.stored = m.attachment_sha256 in stored
        m.money = m.msgtype in MONEY_TYPES
        m.yuan = f"{m.amount_fen / 100:.2f}" if m.amount_fen is not None else ""
        mime = m.attachment_mime or ""
        m.media = (
            "image" if mime.startswith("image/") and mime != "image/svg+xml"
            else "audio" if mime.startswith("audio/")
            else "video" if mime.startswith("video/")
            else "file" if m.attachment_sha256 else ""
        )  # fmt: skip
    return items


@console_view
def conversation_list(request):
    me = request.viewer
    qs = selectors.conversations_visible(me)
    employee = id_or_none(request.GET.get("employee"))
    customer = id_or_none(request.GET.get("customer"))
    if employee:
        qs = qs.filter(employee_id=employee)
    if customer:
        qs = qs.filter(customer_id=customer)
    q = (request.GET.get("q") or "").strip()[:50]
    if q:
        qs = qs.filter(title__icontains=q)
    query = request.GET.copy()
    query.pop("page", None)
    page = page_ahead(qs, PAGE_SIZE, request.GET.get("page"))
    name_conversations(me, page)
    return render(
        request,
        "archive/list.html",
        {"page": page, "filters": request.GET, "query": query.urlencode(), "staff": _staff_choices(me)},
    )


def name_conversations(viewer, conversations) -> None:
    """A manager reads names, not numbers: the customers of the page the viewer may see, by name.

    A conversation whose contact never reported a name (no contact.added) is titled by the
    customer it was matched to instead of the source's raw key.
    """
    ids = {c.customer_id for c in conversations if c.customer_id}
    names = dict(customers_selectors.customers_visible(viewer).filter(pk__in=ids).values_list("pk", "name"))
    for c in conversations:
        c.customer_name = names.get(c.customer_id, "")
        raw = {c.key, c.contact.external_id if c.contact_id else None}
        if c.title.startswith("single:"):  # a WeCom archive key kept as the title before issue 23
            raw.add(c.title)
        if not c.group_id and (not c.title or c.title in raw):
            contact_name = c.contact.name if c.contact_id else ""
            # Never the source's key (single:10:wm...): the customer, the contact's name, or words.
            c.title = c.customer_name or contact_name or _("Chat with a contact not yet named")
        elif c.group_id and (not c.title or c.title in raw):
            c.title = _("Group chat")


@console_view
def conversation_detail(request, conversation_id: int):
    me = request.viewer
    conversation = selectors.get_conversation(me, conversation_id)
    items = selectors.messages_of(me, conversation_id)
    # The newest messages first, as a chat app opens: the last page unless another is asked for.
    page = page_of(items, CHAT_PAGE, request.GET.get("page"), last_by_default=True)
    can_link = (
        conversation.contact is not None
        and conversation.contact.customer_id is None
        and me.role in (Role.MANAGER, Role.EXECUTIVE, Role.ADMIN)
    )
    # Reading someone's chats is a sensitive read: recorded once per viewer, conversation and day.
    append(
        "access.conversation_viewed",
        {"conversation": conversation.pk, "employee": conversation.employee_id, "key": conversation.key},
        actor_id=me.pk,
        unit_id=me.unit_id,
        customer_id=conversation.customer_id,
        source="console",
        source_id=f"conversation:{me.pk}:{conversation.pk}:{timezone.localdate().isoformat()}",
    )
    customer_name = ""
    if conversation.customer_id:
        # A customer now outside the viewer's scope shows as its number alone.
        with contextlib.suppress(NotFound):
            customer_name = get_customer(me, conversation.customer_id).name
    name_conversations(me, [conversation])
    return render(
        request,
        "archive/conversation.html",
        {
            "c": conversation,
            "page": page,
            "items": _decorate(list(page)),
            "can_link": can_link,
            "customer_name": customer_name,
        },
    )


@console_view
@require_POST
def link_contact(request, contact_id: int):
    me = request.viewer
    customer_id = id_or_none(request.POST.get("customer_id"))
    back = request.POST.get("conversation")
    if customer_id is None:
        messages.error(request, _("Give the customer's number."))
    else:
        contact = services.link_contact(actor=me, contact_id=contact_id, customer_id=customer_id)
        messages.success(request, _("%(contact)s is linked; their history now shows on the customer.") % {"contact": contact})
    if back_id := id_or_none(back):
        return redirect("archive:conversation", conversation_id=back_id)
    return redirect("archive:conversations")


@console_view
def attachment(request, message_id: int):
    """The clear bytes of a message's attachment, decrypted on the fly, for a viewer in scope.

    Each viewer's first look at an attachment on a day is a ledger entry (access.attachment_viewed):
    the same (viewer, message, day) again is one entry, so a chat page's images don't flood the log.
    A single Range (bytes=a-b, a-, -n) is answered 206 from the chunks that hold it, so players seek;
    it goes through the same scope and the same entry as a whole download.
    """
    me = request.viewer
    message = selectors.get_message(me, message_id)
    blob = Blob.objects.filter(sha256=message.attachment_sha256).first() if message.attachment_sha256 else None
    if blob is None:
        return render(request, "archive/missing.html", status=404)
    append(
        "access.attachment_viewed",
        {"message": message.entry_seq, "sha256": message.attachment_sha256, "name": message.attachment_name},
        actor_id=me.pk,
        unit_id=me.unit_id,
        customer_id=message.customer_id,
        source="console",
        source_id=f"attachment:{me.pk}:{message.pk}:{timezone.localdate().isoformat()}",
    )
    mime = message.attachment_mime or "application/octet-stream"
    inline = any(mime.startswith(prefix) for prefix in INLINE)
    # Content addressing: the bytes under a hash never change, so the hash is a strong entity tag.
    etag = f'"{blob.sha256}"'
    try:
        part = byteranges.wanted(request.headers.get("Range"), request.headers.get("If-Range"), etag, blob.size)
    except byteranges.Unsatisfiable:
        response = HttpResponse(
            _("The requested range is outside the file (%(size)s bytes).") % {"size": blob.size},
            status=416,
            content_type="text/plain; charset=utf-8",
        )
        response["Content-Range"] = f"bytes */{blob.size}"
        response["Accept-Ranges"] = "bytes"
        response["Cache-Control"] = "private, no-store"
        return response
    if part is None:
        response = StreamingHttpResponse(
            blobs.open_blob(message.attachment_sha256), content_type=mime if inline else "application/octet-stream"
        )
        response["Content-Length"] = str(blob.size)  # the stored bytes, whatever size the device claimed
    else:
        # A player seeking in a voice note or a video: only the chunks holding the range are decrypted.
        start, stop = part
        response = StreamingHttpResponse(
            blobs.open_range(message.attachment_sha256, start, stop, blob.size),
            status=206,
            content_type=mime if inline else "application/octet-stream",
        )
        response["Content-Range"] = byteranges.content_range(start, stop, blob.size)
        response["Content-Length"] = str(stop - start)
    name = (message.attachment_name or message.attachment_sha256[:16]).replace('"', "")
    disposition = "inline" if inline else "attachment"
    response["Content-Disposition"] = f"{disposition}; filename*=UTF-8''{_quote(name)}"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "private, no-store"
    response["Accept-Ranges"] = "bytes"
    response["ETag"] = etag
    return response


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


def _customer_id(viewer, text: str | None) -> int | None:
    """A customer by number, or by name as people know them: the first in scope the customers'
    search box would find (-1, matching nothing, when there is none)."""
    text = (text or "").strip()[:100]
    if not text or text.isdigit():
        return id_or_none(text)
    from custos.customers.selectors import Filters, list_customers

    return list_customers(viewer, Filters(q=text)).values_list("pk", flat=True).first() or -1


@console_view
def search(request):
    me = request.viewer
    params = request.GET
    f = selectors.SearchFilters(
        q=(params.get("q") or "").strip()[:200],
        employee_id=id_or_none(params.get("employee")),
        customer_id=_customer_id(me, params.get("customer")),
        unit_id=id_or_none(params.get("unit")),
        since=day_bound(params.get("since")),
        until=day_bound(params.get("until"), end=True),
        kind=params.get("kind") if params.get("kind") in ("message.sent", "message.received", "call.logged") else None,
    )
    searched = bool(f.q or f.employee_id or f.customer_id or f.unit_id or f.since or f.until or f.kind)
    page = page_ahead(selectors.search(me, f), PAGE_SIZE, params.get("page"), selectors.HITS_CAP) if searched else None
    query = params.copy()
    query.pop("page", None)
    items = _decorate(list(page)) if page else []
    name_conversations(me, list({m.conversation_id: m.conversation for m in items}.values()))
    return render(
        request,
        "archive/search.html",
        {
            "page": page,
            "items": items,
            "filters": params,
            "query": query.urlencode(),
            "staff": _staff_choices(me),
            "units": [(u.pk, ("— " * u.depth) + u.name) for u in units_visible(me)],
            "wide": scope_of(me).kind != "own",
        },
    )
