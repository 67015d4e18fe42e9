"""Evidence packages of a manager limited to product lines or grades (issue 20 item 5): a package
selected by employee or by time range holds only the entries of customers within the limits (and
those about no customer); a customer outside them is not found."""

import io
import zipfile
from datetime import timedelta

import pytest

from custos.org import product_lines
from custos.org.models import Employee, ProductLine

from .conftest import T0, message
from .test_api import iso

pytestmark = pytest.mark.django_db


@pytest.fixture
def limited(chats):
    """张三 (sales_a's) buys 童装, 李四 (sales_a_peer's) 女装; the store manager serves 童装 only."""
    c = chats.company
    kids = ProductLine.objects.create(name="童装", code="kids")
    women = ProductLine.objects.create(name="女装", code="women")
    chats.zhang.product_lines.add(kids)
    chats.li.product_lines.add(women)
    # 李四 also wrote to 张三's salesperson: an entry of sales_a about a customer outside the limits.
    from custos.ledger.services import append_batch

    append_batch([message(c.sales_a, chats.li, "李四问尺码", when=T0 + timedelta(days=3), contact="wx_li")])
    # 李四's chat from before a manager linked the contact to them: its entry names no customer,
    # only the archive knows it is 李四's now.
    append_batch([message(c.sales_a_peer, None, "李四早先的留言", when=T0 + timedelta(days=4), contact="wx_li_old")])
    from custos.archive import pseudonym
    from custos.archive.models import ExternalContact
    from custos.archive.services import link_contact

    # the archive keeps a WeChat id as its pseudonym
    old = ExternalContact.objects.get(external_id=pseudonym.of("wx_li_old"))
    link_contact(actor=c.manager_a, contact_id=old.pk, customer_id=chats.li.pk)
    product_lines.set_limits(actor=c.admin, employee=c.manager_a, lines=["kids"], grades=[])
    return Employee.objects.get(pk=c.manager_a.pk)


def _content(client, package_id) -> str:
    data = b"".join(client.get(f"evidence/packages/{package_id}/download").streaming_content)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return "\n".join(zf.read(n).decode("utf-8", "replace") for n in zf.namelist())


@pytest.mark.parametrize(
    "body",
    [
        {"since": iso(T0 - timedelta(days=1)), "until": iso(T0 + timedelta(days=30))},
        {"employee_id": "sales_a"},
        {"employee_id": "sales_a_peer"},
    ],
)
def test_a_package_holds_only_customers_within_the_limits(chats, api, limited, body):
    c = chats.company
    body = {k: (getattr(c, v).pk if k == "employee_id" else v) for k, v in body.items()}
    client = api(limited)
    response = client.post("evidence/packages", body)
    assert response.status_code == 202, response.content
    status = client.get(f"evidence/packages/{response.json()['id']}").json()
    assert status["status"] == "done", status
    text = _content(client, response.json()["id"])
    assert "李四" not in text and "李总" not in text and "李四问尺码" not in text and "李四早先" not in text
    if body.get("employee_id") != c.sales_a_peer.pk:
        assert "张总您好" in text


def test_a_customer_outside_the_limits_is_not_found(chats, api, limited):
    response = api(limited).post("evidence/packages", {"customer_id": chats.li.pk})
    assert response.status_code == 404


def test_the_unlimited_region_manager_gets_both(chats, api, limited):
    c = chats.company
    client = api(c.region_manager)
    response = client.post("evidence/packages", {"employee_id": c.sales_a.pk})
    text = _content(client, response.json()["id"])
    assert "李四问尺码" in text and "张总您好" in text
    response = client.post("evidence/packages", {"employee_id": c.sales_a_peer.pk})
    assert "李四早先的留言" in _content(client, response.json()["id"])


def test_the_ledger_pages_leave_out_a_linked_message_outside_the_limits(chats, api, console, limited):
    from custos.ledger.selectors import entries_visible

    seen = [e.payload for e in entries_visible(limited)]
    assert not any("李四早先的留言" in p for p in seen) and any("张总您好" in p for p in seen)
    assert any("李四早先的留言" in e.payload for e in entries_visible(chats.company.region_manager))
    page = console(limited).get("/ledger/").content.decode()
    assert "李四早先的留言" not in page
