"""Run localstripe (a fake Stripe API) on 127.0.0.1 only: ``python localstripe_server.py PORT``.

Started by the payments tests (``conftest.localstripe_server``) instead of localstripe's own CLI,
which listens on every interface and saves its state to /tmp after each request.
"""

import sys

import localstripe.resources
from aiohttp import web
from localstripe.server import app

localstripe.resources.Store.dump_to_disk = lambda self: None  # keep the state in memory only

if __name__ == "__main__":
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
