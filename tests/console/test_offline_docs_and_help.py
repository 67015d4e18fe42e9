"""Issue 23, item 8: the API docs page loads nothing from outside; `custos COMMAND --help` lists
the command's own options, not Django's."""

import re
import subprocess
import sys

from django.test import Client


def test_api_docs_load_only_our_own_files(db):
    client = Client()
    page = client.get("/api/v1/docs").content.decode()
    assert "swagger-ui" in page
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets and all(a.startswith("/") for a in assets), assets  # no CDN, no other host
    for asset in assets:
        if asset.endswith((".js", ".css")):
            assert client.get(asset).status_code == 200, asset


def test_command_help_hides_djangos_options():
    out = subprocess.run(
        [sys.executable, "-c", "import sys; from custos.cli import main; sys.exit(main())", "pool", "--help"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "recycle" in out
    for option in (
        "--settings",
        "--pythonpath",
        "--traceback",
        "--no-color",
        "--force-color",
        "--skip-checks",
        "-v ",
    ):
        assert option not in out, option
