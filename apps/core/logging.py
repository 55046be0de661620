"""Logging filter that stamps every record with the current request id ("-" outside requests)."""

import logging

from .request_context import get_request_id


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = get_request_id() or "-"
        return True
