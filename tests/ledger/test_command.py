"""`custos ledger head | prove | pubkey | verify`: JSON out, one-line errors, never a traceback."""

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization
from django.core.management import CommandError, call_command
from django.core.management.base import CommandParser

from custos.core.command import run_command
from custos.ledger import heads, merkle, tree
from custos.ledger.management.commands import ledger as ledger_command
from custos.ledger.models import SignedHead
from tests.ledger.conftest import fill


def run(*args, capsys) -> str:
    call_command("ledger", *args)
    return capsys.readouterr().out


def test_head_signs_now_and_prints_json(db, capsys):
    fill(5)
    out = json.loads(run("head", capsys=capsys))
    head = SignedHead.objects.get()
    assert out["size"] == 5 and out["id"] == head.pk
    assert out["root_hash"] == tree.root(5).hex()
    assert base64.b64decode(out["signature"]) == bytes(head.signature)
    assert out["key_id"] == heads.key_id()
    json.loads(run("head", capsys=capsys))
    assert SignedHead.objects.count() == 2  # "now" means now, even when the log did not grow


def test_prove_against_the_latest_head(db, capsys):
    fill(700)
    run("head", capsys=capsys)
    fill(10, start=700)  # entries after the head do not change what is proven against it
    out = json.loads(run("prove", "300", capsys=capsys))
    assert out["size"] == 700 and out["head"]["size"] == 700
    assert merkle.verify_inclusion(
        bytes.fromhex(out["leaf_hash"]),
        300,
        700,
        [bytes.fromhex(p) for p in out["proof"]],
        bytes.fromhex(out["root_hash"]),
    )
    assert out["root_hash"] == out["head"]["root_hash"]


def test_prove_against_a_given_size(db, capsys):
    fill(50)
    out = json.loads(run("prove", "7", "--size", "20", capsys=capsys))
    assert out["head"] is None and out["root_hash"] == tree.root(20).hex()
    assert merkle.verify_inclusion(
        bytes.fromhex(out["leaf_hash"]), 7, 20, [bytes.fromhex(p) for p in out["proof"]], tree.root(20)
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["prove", "3"], "no signed head yet: run `custos ledger head` first, or pass --size"),
        (["prove", "10", "--size", "10"], "entry 10 is not among the first 10 entries"),
        (["prove", "1", "--size", "11"], "size 11 is outside the log, which has 10 entries"),
        (["prove", "abc"], "argument SEQ: 'abc' is not an entry number (0, 1, 2, ...)"),
        (["prove", "-1"], "argument SEQ: '-1' is not an entry number (0, 1, 2, ...)"),
        (["prove"], "the following arguments are required: SEQ"),
        (["sing"], "argument ACTION: invalid choice: 'sing'"),
    ],
)
def test_errors_are_one_line(db, args, message):
    fill(10)
    with pytest.raises(CommandError) as caught:
        call_command("ledger", *args)
    assert str(caught.value).removeprefix("Error: ").startswith(message)  # argparse's errors say "Error: "
    assert "\n" not in str(caught.value)


def test_errors_through_the_custos_command_are_one_line(db, capsys, monkeypatch):
    # run_command patches CommandParser.error for good; undo it after this test
    monkeypatch.setattr(CommandParser, "error", CommandParser.error)
    fill(3)
    assert run_command("ledger", ["prove", "9", "--size", "3"]) == 1
    assert capsys.readouterr().err == "custos ledger: entry 9 is not among the first 3 entries\n"
    with pytest.raises(SystemExit) as exited:
        run_command("ledger", ["prove", "x"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'x' is not an entry number" in err and "Traceback" not in err


def test_pubkey_prints_the_pem_that_checks_heads(db, capsys):
    fill(3)
    head = heads.sign_head()
    pem = run("pubkey", capsys=capsys)
    key = serialization.load_pem_public_key(pem.encode())
    key.verify(bytes(head.signature), heads.signed_bytes(head))


def test_verify_shows_progress_on_stderr_for_big_logs(db, capsys, monkeypatch):
    fill(300)
    monkeypatch.setattr(ledger_command, "PROGRESS_FROM", 100)
    call_command("ledger", "verify", stderr=None)
    captured = capsys.readouterr()
    assert "ledger verified: 300 entries" in captured.out
    assert "/300 [" in captured.err and "entries/s" in captured.err
