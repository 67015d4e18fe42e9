"""Console pages: inbox with its live count, the alert with its span marked, transitions, lexicon."""

import re

from custos.alerts.models import Alert, AllowedChannel, LexiconTerm, Threshold, Webhook

from .conftest import message_event


def test_nav_badge_and_inbox(company, send, console):
    client = console(company.manager_a)
    home = client.get("/").content.decode()
    assert 'hx-get="/alerts/badge/"' in home and "every 5s" in home
    assert client.get("/alerts/badge/").content == b""
    send(message_event(company.sales_a, "这单咱们私下交易"))
    badge = client.get("/alerts/badge/").content.decode()
    assert 'data-open="1"' in badge
    page = client.get("/alerts/").content.decode()
    alert = Alert.objects.get()
    assert f'data-alert="{alert.pk}"' in page and company.sales_a.name in page
    rows = client.get("/alerts/?state=resolved", HTTP_HX_REQUEST="true").content.decode()
    assert "data-alert" not in rows and "<html" not in rows
    # Sales staff have no inbox and no badge.
    sales = console(company.sales_a)
    assert 'hx-get="/alerts/badge/"' not in sales.get("/").content.decode()
    assert sales.get("/alerts/badge/").content == b""
    assert sales.get("/alerts/").status_code == 302
    assert console(company.manager_b).get(f"/alerts/{alert.pk}/").status_code == 404


def test_alert_page_marks_the_exact_span(company, send, console):
    text = "您好！这单咱们私下交易吧"
    send(message_event(company.sales_a, text))
    alert = Alert.objects.get()
    page = console(company.manager_a).get(f"/alerts/{alert.pk}/").content.decode()
    [(category, start, end, marked)] = re.findall(
        r'<mark class="hit" data-category="(\w+)" data-start="(\d+)" data-end="(\d+)"[^>]*>([^<]*)</mark>',
        page,
    )
    assert category == "private_deal" and text[int(start) : int(end)] == marked
    assert "私下交易" in marked


def test_transitions_from_the_console(company, send, console):
    send(message_event(company.sales_a, "我们有回扣政策说明书，您看一下"))
    alert = Alert.objects.get()
    client = console(company.manager_a)
    page = client.get(f"/alerts/{alert.pk}/").content.decode()
    [candidate] = re.findall(r'name="allow" value="([^"]+)"', page)[:1]
    assert client.post(f"/alerts/{alert.pk}/acknowledge/", {"reason": ""}).status_code == 302
    alert.refresh_from_db()
    assert alert.state == "acknowledged"
    client.post(f"/alerts/{alert.pk}/false_positive/", {"reason": "公司文件", "allow": [candidate]})
    alert.refresh_from_db()
    assert alert.state == "false_positive" and alert.reason == "公司文件"
    assert AllowedChannel.objects.filter(value=candidate, unit=company.store_a).exists()
    # An auditor reads but has no buttons and cannot post.
    auditor = console(company.auditor)
    assert 'name="reason"' not in auditor.get(f"/alerts/{alert.pk}/").content.decode()


def test_lexicon_and_settings_pages(company, console):
    client = console(company.region_manager)
    r = client.post(
        "/alerts/lexicon/",
        {
            "what": "term",
            "unit": company.south.pk,
            "text": "走后门",
            "category": "private_deal",
            "severity": "high",
        },
    )
    assert r.status_code == 302
    assert LexiconTerm.objects.filter(unit=company.south, text="走后门").exists()
    client.post(
        "/alerts/lexicon/", {"what": "import", "unit": company.south.pk, "lines": "茶水钱\tkickback\thigh\n"}
    )
    client.post(
        "/alerts/lexicon/",
        {"what": "allow", "unit": company.south.pk, "value": "400-820-8820", "note": "热线"},
    )
    page = client.get(f"/alerts/lexicon/?unit={company.store_a.pk}").content.decode()
    assert (
        'data-term="走后门"' in page
        and 'data-term="茶水钱"' in page
        and 'data-allowed="400-820-8820"' in page
    )
    client.post(
        "/alerts/settings/",
        {"what": "threshold", "unit": company.south.pk, "key": "deletions_count", "value": "5"},
    )
    assert Threshold.objects.get(unit=company.south, key="deletions_count").value == 5
    client.post("/alerts/settings/", {"what": "webhook", "unit": company.south.pk, "name": "店长群", "kind": "wecom",
                                      "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc", "min_severity": "medium"})  # fmt: skip
    assert Webhook.objects.filter(name="店长群").exists()
    page = client.get(f"/alerts/settings/?unit={company.store_a.pk}").content.decode()
    assert 'data-key="deletions_count" data-value="5"' in page and 'data-webhook="店长群"' in page
    assert "key=abc" not in page
    # Another region's manager cannot reach this region's units.
    assert console(company.manager_b).get(f"/alerts/lexicon/?unit={company.south.pk}").status_code == 404


def test_a_manager_tries_a_message_on_the_lexicon_page(company, console):
    client = console(company.manager_a)
    url = f"/alerts/lexicon/?unit={company.store_a.pk}"
    page = client.get(url, {"try": "回 扣照老规矩给你"}).content.decode()
    # the shipped lexicon's term, its category in words, how it was read, and its other forms
    assert 'data-tried="回 扣"' in page and "回扣好处费" in page and "“回扣”" in page
    assert "回扣 <small" in page.replace("</code>", "") or "<code>回扣</code>" in page
    assert "<code>回回扣扣</code>" in page and "<code>hui kou</code>" in page
    page = client.get(url, {"try": "今天的会议改到三点"}).content.decode()
    assert "不会告警" in page or "No alert" in page
    # too long (the form allows 500): back to the page with the reason, nothing scanned
    r = client.get(url, {"try": "好" * 501}, HTTP_REFERER=url)
    assert r.status_code == 302 and r["Location"] == url
    page = client.get(url).content.decode()
    assert "一次最多检查 500 个字" in page or "Try at most 500 characters" in page
    # a company term's category in words, not its code
    client.post(
        "/alerts/lexicon/",
        {
            "what": "term",
            "unit": company.store_a.pk,
            "text": "茶水费",
            "category": "kickback",
            "severity": "high",
        },
    )
    page = client.get(url).content.decode()
    row = page[page.index('data-term="茶水费"') :]
    assert "回扣好处费" in row[: row.index("</tr>")] and ">kickback<" not in row[: row.index("</tr>")]
