"""The WeCom stub as a real HTTP server, a company connected to it, and its callbacks delivered.

Callbacks go from the stub to Custos's callback view through Django's test client (the same
signed, encrypted bytes WeCom posts); test_live_callbacks.py sends them over real HTTP too.
"""

from urllib.parse import urlencode

import pytest
from django.test import Client

from custos.wecom import services
from custos.wecom.stub import StubServer, StubWeCom

TOKEN = "CustosTok3n"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"


@pytest.fixture(autouse=True)
def _fast_backoff(settings):
    settings.CUSTOS_WECOM_BACKOFF_S = 0


def seed_company(stub: StubWeCom, company) -> None:
    """WeCom's side of the test company: departments, and members with the staff's user names."""
    stub.add_department(1, "总部", 0)
    stub.add_department(2, "华南区", 1)
    stub.add_department(3, "天河店", 2)
    stub.add_department(4, "华东区", 1)
    stub.add_department(5, "徐汇店", 4)
    for e, dept in ((company.admin, 1), (company.region_manager, 2), (company.manager_a, 3), (company.sales_a, 3),
                    (company.sales_a_peer, 3), (company.service_a, 3), (company.manager_b, 5), (company.sales_b, 5)):  # fmt: skip
        stub.add_user(e.user.username, e.name, dept)


@pytest.fixture
def stub(company):
    server = StubServer(StubWeCom())
    seed_company(server.stub, company)
    with server:
        yield server.stub


@pytest.fixture
def wecom(company, stub, django_capture_on_commit_callbacks):
    """The company connected to the stub; stub.callback delivers into Custos's callback view."""
    server_url = f"http://{stub_address(stub)}"
    with django_capture_on_commit_callbacks(execute=True):
        services.configure(
            actor=company.admin, corp_id=stub.corp_id, api_base=server_url, agent_id=stub.agent_id,
            app_secret=stub.secrets["app"], contact_secret=stub.secrets["contact"], directory_secret=stub.secrets["directory"],
            callback_token=TOKEN, callback_aes_key=AES_KEY, observers=["service_a"], enabled=True,
        )  # fmt: skip
    client = Client()

    def deliver(query: dict, body: bytes):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(f"/wecom/callback/?{urlencode(query)}", data=body, content_type="text/xml")

    stub.callback = {"url": None, "token": TOKEN, "aes_key": AES_KEY}
    stub.deliver = deliver
    return stub


def stub_address(stub: StubWeCom) -> str:
    return stub.address


@pytest.fixture
def synced(wecom, django_capture_on_commit_callbacks):
    """Directory synced: every seeded member linked to their employee."""
    from custos.wecom import sync

    with django_capture_on_commit_callbacks(execute=True):
        sync.run(sync.start("directory").pk)
    return wecom
