"""Evidence package files expire: deleted by the worker's sweep, recorded, 410 on download, rebuildable.

Real packages are built into the data directory; the clock is moved by setting finished_at (and a
file's mtime) into the past and passing `now` to the sweep (no time-machine dependency here).
"""

import io
import json
import os
import time
import uuid
from datetime import datetime, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from custos.evidence import offline, services, tasks
from custos.evidence import package as builder
from custos.evidence.apps import keep_days_setting
from custos.evidence.models import EvidencePackage
from custos.evidence.selectors import Selection
from custos.ledger.models import Entry


def _build(chats, who=None):
    package = services.request_package(who or chats.company.manager_a, Selection(customer_id=chats.zhang.pk))
    assert package.status == "done", package.error
    return package


def _age(package, days):
    EvidencePackage.objects.filter(pk=package.pk).update(finished_at=timezone.now() - timedelta(days=days))


def test_sweep_deletes_only_files_past_the_keeping_period(chats, settings):
    settings.CUSTOS_EVIDENCE_KEEP_DAYS = "30"
    old, recent = _build(chats), _build(chats)
    _age(old, 31)
    _age(recent, 29)
    old_path, recent_path = builder.directory() / old.filename, builder.directory() / recent.filename
    expired = services.expire_packages()
    assert expired == [str(old.public_id)]
    assert not old_path.exists() and recent_path.exists()
    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.status == "expired" and old.expired_at is not None and recent.status == "done"
    entry = Entry.objects.get(kind="evidence.package_expired")
    payload = json.loads(entry.payload)
    assert payload["package"] == str(old.public_id) and payload["created_seq"] == old.ledger_seq
    assert payload["manifest_sha256"] == old.manifest_sha256 and payload["keep_days"] == 30
    assert payload["bytes"] == old.size_bytes > 0
    assert entry.actor_id == chats.company.manager_a.pk and entry.customer_id == chats.zhang.pk
    # Once: sweeping again changes nothing and writes nothing.
    assert services.expire_packages() == []
    assert Entry.objects.filter(kind="evidence.package_expired").count() == 1
    # The moved clock: two days on, the recent one goes too.
    assert services.expire_packages(now=timezone.now() + timedelta(days=2)) == [str(recent.public_id)]
    assert not recent_path.exists()
    call_command("ledger", "verify")


def test_the_worker_task_is_periodic_and_runs_the_sweep(chats, settings):
    settings.CUSTOS_EVIDENCE_KEEP_DAYS = 30
    package = _build(chats)
    _age(package, 45)
    assert tasks.expire_packages.call_local() == 1
    package.refresh_from_db()
    assert package.status == "expired"
    # Declared like the other periodic jobs: `custos worker` runs it every hour, at minute 40.
    assert tasks.expire_packages.task_class in HUEY._registry._periodic_tasks
    task = tasks.expire_packages.s()
    assert task.validate_datetime(datetime(2026, 1, 1, 3, 40)) and not task.validate_datetime(
        datetime(2026, 1, 1, 3, 41)
    )


def test_download_of_an_expired_package_is_410_and_a_new_one_can_be_built(chats, api, console, settings):
    settings.CUSTOS_EVIDENCE_KEEP_DAYS = 7
    c = chats.company
    package = _build(chats)
    _age(package, 8)
    services.expire_packages()
    client = api(c.manager_a)
    r = client.get(f"evidence/packages/{package.public_id}/download")
    assert r.status_code == 410
    body = r.json()
    assert body["error"] == "package_expired" and "7" in body["message"]
    status = client.get(f"evidence/packages/{package.public_id}").json()
    assert status["status"] == "expired" and status["expired_at"] and status["expires_at"] is None
    # The console: the package page, with the reason, a 410 and a button to build the same selection again.
    browser = console(c.manager_a)
    page = browser.get(f"/evidence/{package.public_id}/download/")
    assert page.status_code == 410
    html = page.content.decode()
    assert 'id="package-expired"' in html and 'id="package-rebuild"' in html
    assert f'name="customer" value="{chats.zhang.pk}"' in html
    assert not Entry.objects.filter(kind="evidence.package_downloaded").exists()
    # Not the requester: still a 404, expired or not.
    assert api(c.region_manager).get(f"evidence/packages/{package.public_id}/download").status_code == 404
    # Building the same selection again, from the page's button: a new package, downloadable.
    r = browser.post(
        "/evidence/", {"customer": str(chats.zhang.pk), "employee": "", "since": "", "until": ""}
    )
    assert r.status_code == 302
    fresh = EvidencePackage.objects.exclude(pk=package.pk).get()
    assert fresh.status == "done" and fresh.customer_id == package.customer_id
    download = client.get(f"evidence/packages/{fresh.public_id}/download")
    assert download.status_code == 200
    assert offline.verify_package(io.BytesIO(b"".join(download.streaming_content))).ok
    assert client.get(f"evidence/packages/{fresh.public_id}").json()["expires_at"]


def test_past_its_expiry_a_download_is_refused_before_the_sweep_runs(chats, api, settings):
    settings.CUSTOS_EVIDENCE_KEEP_DAYS = 7
    package = _build(chats)
    client = api(chats.company.manager_a)
    assert client.get(f"evidence/packages/{package.public_id}/download").status_code == 200
    _age(package, 8)  # due, but the hourly sweep has not run: the file is still on disk
    assert (builder.directory() / package.filename).is_file()
    r = client.get(f"evidence/packages/{package.public_id}/download")
    assert r.status_code == 410 and r.json()["error"] == "package_expired"
    package.refresh_from_db()
    assert package.status == "done"  # the sweep, not a download, records the expiry
    assert Entry.objects.filter(kind="evidence.package_downloaded").count() == 1


def test_rebuild_form_carries_a_time_range(chats, console, settings):
    settings.CUSTOS_EVIDENCE_KEEP_DAYS = 1
    c = chats.company
    browser = console(c.manager_a)
    r = browser.post("/evidence/", {"customer": "", "employee": str(c.sales_a.pk),
                                    "since": "2020-01-01T08:00", "until": "2099-01-01T08:00"})  # fmt: skip
    package = EvidencePackage.objects.get()
    _age(package, 2)
    services.expire_packages()
    html = browser.get(f"/evidence/{package.public_id}/").content.decode()
    assert 'data-status="expired"' in html and 'id="package-rebuild"' in html
    since = html.split('name="since" value="')[1].split('"')[0]
    until = html.split('name="until" value="')[1].split('"')[0]
    r = browser.post(
        "/evidence/", {"customer": "", "employee": str(c.sales_a.pk), "since": since, "until": until}
    )
    assert r.status_code == 302
    fresh = EvidencePackage.objects.exclude(pk=package.pk).get()
    assert (fresh.employee_id, fresh.since, fresh.until) == (
        package.employee_id,
        package.since,
        package.until,
    )
    assert fresh.status == "done"


def test_files_the_command_line_left_and_stale_parts_go_by_age(chats, settings):
    settings.CUSTOS_EVIDENCE_KEEP_DAYS = 30
    built = services.build_now(Selection(customer_id=chats.zhang.pk))  # custos evidence build: no record
    directory = builder.directory()
    part = directory / f"custos-evidence-{uuid.uuid4()}.part"
    part.write_bytes(b"half a zip")
    mine = directory / "notes.txt"  # not a package file: never touched
    mine.write_text("x")
    assert services.expire_packages() == []  # all new
    long_ago = time.time() - 40 * 86400
    for path in (built.path, part, mine):
        os.utime(path, (long_ago, long_ago))
    package_id = built.filename.removeprefix("custos-evidence-").removesuffix(".zip")
    assert services.expire_packages() == [package_id]
    assert not built.path.exists() and not part.exists() and mine.exists()
    entry = Entry.objects.get(kind="evidence.package_expired")
    created = Entry.objects.get(kind="evidence.package_created")
    payload = json.loads(entry.payload)
    assert payload["package"] == package_id and payload["created_seq"] == created.seq
    assert payload["manifest_sha256"] == built.manifest_sha256


def test_zero_keeps_forever_and_a_bad_value_is_named(chats, settings):
    settings.CUSTOS_EVIDENCE_KEEP_DAYS = "0"
    package = _build(chats)
    _age(package, 3650)
    assert services.expire_packages() == [] and services.package_path(package).exists()
    assert keep_days_setting() == []
    settings.CUSTOS_EVIDENCE_KEEP_DAYS = "a month"
    errors = keep_days_setting()
    assert (
        len(errors) == 1
        and "CUSTOS_EVIDENCE_KEEP_DAYS" in errors[0].msg
        and errors[0].id == "custos.evidence.E001"
    )
    with pytest.raises(Exception, match="whole number of days"):
        services.expire_packages()


def test_a_file_deleted_by_hand_still_expires_the_record(chats, settings):
    settings.CUSTOS_EVIDENCE_KEEP_DAYS = 30
    package = _build(chats)
    services.package_path(package).unlink()
    _age(package, 31)
    assert services.expire_packages() == [str(package.public_id)]
    package.refresh_from_db()
    assert package.status == "expired"
