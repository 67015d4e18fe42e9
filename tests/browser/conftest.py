"""Headless Chromium (Debian's /usr/bin/chromium) driven by Playwright against a live server:
the `browser` and `page` fixtures live in tests/conftest.py, one Chromium for every folder."""
