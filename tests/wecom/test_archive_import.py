"""`custos wecom import-archive FILE`: decrypted records, as archive vendors export them."""

import json

import pytest
from django.core.management import CommandError, call_command

from custos.alerts.models import Alert
from custos.archive import selectors
from custos.ledger.models import Entry
from custos.wecom.models import ArchiveMessage, MemberLink
from tests.wecom.archive_support import message


@pytest.fixture
def members(company):
    for employee in (company.sales_a, company.sales_b):
        MemberLink.objects.create(userid=employee.user.username, employee=employee)


def write(tmp_path, lines, name="export.jsonl"):
    path = tmp_path / name
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line, ensure_ascii=False)) + "\n" for line in lines), encoding="utf-8")
    return path


def run(*args):
    from io import StringIO

    out = StringIO()
    call_command("wecom", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_import_is_idempotent_and_goes_through_detection_and_search(members, company, tmp_path):
    lines = [message(f"h{i}", minute=i) for i in range(1, 1201)]
    lines.append(message("hx", minute=2000, text={"content": "以后加我私人微信，私下给你打折"}))
    lines.append(message("img", "image", minute=2001, image={"md5sum": "a" * 32, "filesize": 10, "sdkfileid": "old"}))
    lines.append(message("int", sender="sales_a", to=["sales_b"], minute=2002))
    lines.append("")  # blank lines are skipped
    path = write(tmp_path, lines)
    out = run("import-archive", str(path), "--no-progress")
    assert "1203 records: 1202 appended" in out and "1 set aside" in out
    assert Entry.objects.filter(source="wecom_archive").count() == 1202
    img = json.loads(Entry.objects.get(source_id="img").payload)
    assert img["attachment"] is None and img["raw"]["image"]["sdkfileid"] == "old"  # no file in an export
    assert ArchiveMessage.objects.get(msgid="int").status == "internal"
    assert Alert.objects.filter(employee=company.sales_a).exists()
    assert [m.source_id for m in selectors.search(company.admin, selectors.SearchFilters(q="私人微信"))] == ["hx"]

    again = run("import-archive", str(path), "--no-progress")
    assert "1202 already there" in again
    assert Entry.objects.filter(source="wecom_archive").count() == 1202


@pytest.mark.parametrize(
    "bad,reason",
    [
        ("{not json", "3: not JSON"),
        ("[1, 2]", "3: not a JSON object"),
        (json.dumps({"msgid": "x", "msgtype": "text", "from": "sales_a"}), "3: no msgtime"),
        (json.dumps({"msgtime": 1, "msgtype": "text", "from": "sales_a"}), "3: no msgid"),
    ],
)
def test_a_bad_line_stops_the_import_before_anything_goes_in(members, tmp_path, bad, reason):
    path = write(tmp_path, [message("ok1"), message("ok2"), bad, message("ok3")])
    with pytest.raises(CommandError) as caught:
        run("import-archive", str(path), "--no-progress")
    assert caught.value.returncode == 2
    assert f"export.jsonl:{reason}" in str(caught.value) and "nothing was imported" in str(caught.value)
    assert "\n" not in str(caught.value)
    assert not Entry.objects.filter(source="wecom_archive").exists()


def test_a_missing_or_binary_file(members, tmp_path):
    with pytest.raises(CommandError, match="no such file") as caught:
        run("import-archive", str(tmp_path / "nope.jsonl"))
    assert caught.value.returncode == 2
    binary = tmp_path / "b.jsonl"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(CommandError, match="not UTF-8"):
        run("import-archive", str(binary))


def test_status_and_pull_subcommands_say_what_is_missing(members):
    assert "not configured" in run("status")  # the connector's own subcommand still answers
    with pytest.raises(CommandError, match="企业ID"):
        run("archive-pull")
    assert "cursor: seq 0" in run("archive-status")
