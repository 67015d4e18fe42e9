"""The test suite's live server under requests that arrive together, as a browser sends them."""

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from custos.ledger.models import Entry
from custos.org.models import Role

from ..conftest import PASSWORD, hire


@pytest.mark.django_db(transaction=True)
def test_sign_ins_at_the_same_moment_each_reach_the_ledger(live_server, company):
    staff = [hire(company.store_a, Role.SALES) for _ in range(8)]

    def sign_in(employee):
        session = requests.Session()
        form = session.get(f"{live_server.url}/login/", timeout=30)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
        return session.post(
            f"{live_server.url}/login/",
            data={"csrfmiddlewaretoken": token, "username": employee.user.username, "password": PASSWORD},
            headers={"Referer": f"{live_server.url}/login/"}, allow_redirects=False, timeout=30,
        ).status_code  # fmt: skip

    with ThreadPoolExecutor(len(staff)) as pool:
        codes = list(pool.map(sign_in, staff))
    assert codes == [302] * len(staff)
    assert Entry.objects.filter(kind="auth.login").count() == len(staff)
