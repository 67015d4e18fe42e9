"""`custos scan`: JSON lines in and out, one line per bad input, never a traceback."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from custos.detection.management.commands.scan import Command


def scan(lines: str, *args: str) -> tuple[list[dict], str, CommandError | None]:
    out, err = io.StringIO(), io.StringIO()
    error = None
    try:
        # The command object itself: it runs whether or not the app is in INSTALLED_APPS yet.
        call_command(Command(), *args, stdin=io.StringIO(lines), stdout=out, stderr=err)
    except CommandError as exc:
        error = exc
    return [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue(), error


def line(**fields) -> str:
    return json.dumps(fields, ensure_ascii=False) + "\n"


def test_one_line_of_hits_per_message_in_order():
    results, err, error = scan(
        line(id="a", text="加我V信吧", sender_role="staff")
        + line(id=2, text="好的，谢谢", sender_role="customer")
        + "\n"
        + line(id="c", text="我手机 13712345678")
    )
    assert error is None and err == ""
    assert [r["id"] for r in results] == ["a", 2, "c"]
    (hit,) = results[0]["hits"]
    assert hit == {
        "category": "contact_diversion",
        "rule": "near:add_me_on_private_app",
        "severity": "high",
        "confidence": "normalised",
        "start": 0,
        "end": 4,
        "matched": "加我V信",
    }
    assert results[1]["hits"] == []
    assert [h["category"] for h in results[2]["hits"]] == ["contact_leak"]  # no role: taken for staff


def test_bad_lines_are_reported_by_number_and_the_rest_scanned():
    results, err, error = scan(
        "not json\n"
        + "[1, 2]\n"
        + line(text="no id")
        + line(id="x", text=5)
        + line(id="y", text="飞单", sender_role=3)
        + line(id="ok", text="飞单")
    )
    assert [r["id"] for r in results] == ["ok"]
    lines = err.splitlines()
    assert [msg.split(":")[1].strip() for msg in lines] == ["line 1", "line 2", "line 3", "line 4", "line 5"]
    assert all(msg.startswith("custos scan: line ") for msg in lines)
    assert 'id "x"' in lines[3] and 'id "y"' in lines[4]
    assert "Traceback" not in err
    assert error is not None and "5 input lines" in str(error)


def test_bytes_that_are_not_utf8_are_a_bad_line():
    out, err = io.StringIO(), io.StringIO()
    stdin = io.BytesIO(b'{"id": 1, "text": "\xff"}\n' + line(id=2, text="回扣").encode())
    with pytest.raises(CommandError):
        call_command(Command(), stdin=stdin, stdout=out, stderr=err)
    assert "line 1: not UTF-8" in err.getvalue()
    assert json.loads(out.getvalue())["id"] == 2


def test_lexicon_and_allow_files(tmp_path):
    extra = tmp_path / "extra.tsv"
    extra.write_text("# ours\n跑路了\tpoaching\thigh\n暗号\n", encoding="utf-8")
    allow = tmp_path / "allow.txt"
    allow.write_text("13800138000\n", encoding="utf-8")
    results, _, error = scan(
        line(id=1, text="我要跑路了") + line(id=2, text="暗号") + line(id=3, text="打 13800138000"),
        "--lexicon",
        str(extra),
        "--allow",
        str(allow),
    )
    assert error is None
    assert [[h["category"] for h in r["hits"]] for r in results] == [["poaching"], ["custom"], []]


def test_a_broken_lexicon_is_one_clear_error(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("词\tkickback\tsevere\n", encoding="utf-8")
    with pytest.raises(CommandError, match=r"bad.tsv line 1: severity 'severe'"):
        call_command(Command(), "--lexicon", str(bad), stdin=io.StringIO(""), stdout=io.StringIO())
    with pytest.raises(CommandError, match="cannot read lexicon"):
        call_command(
            Command(), "--lexicon", str(tmp_path / "nope.tsv"), stdin=io.StringIO(""), stdout=io.StringIO()
        )
