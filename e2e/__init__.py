"""Browser end-to-end tests (Playwright driving Debian's Chromium against pytest-django's live server)."""
