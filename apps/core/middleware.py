"""Request id: taken from ``X-Request-ID`` (when well formed) or generated, returned in the response."""

from django.conf import settings

from .request_context import clean_request_id, reset_request_id, set_request_id


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.header = settings.REQUEST_ID_HEADER
        self.meta_key = "HTTP_" + self.header.upper().replace("-", "_")

    def __call__(self, request):
        request_id = clean_request_id(request.META.get(self.meta_key))
        request.request_id = request_id
        token = set_request_id(request_id)
        try:
            response = self.get_response(request)
        finally:
            reset_request_id(token)
        response[self.header] = request_id
        return response
