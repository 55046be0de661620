"""Batch order files through the API: upload one, follow its processing, read its report.

- ``POST /api/v1/orders/files`` (multipart, the file in ``file``): from a shop API key with the
  ``orders`` scope (every order in the file must be for its shop), a signed-in member allowed to
  manage orders (``shop`` names which of their shops; it may be left out when they manage only
  one) or platform staff (orders for any shops; ``shop`` pins the file to one). 202 with the file's
  id and status and a ``Location`` to follow it. A file over the size limit is a 413, one that is
  neither XML nor JSON a 415, an empty one a 422 — all problem documents; nothing is kept then.
- ``GET /api/v1/orders/files``: the caller's files, newest first (cursor-paginated).
- ``GET /api/v1/orders/files/{id}``: status, counters, progress and the report (``?outcome=``
  filters it); another shop's file is a 404.
- ``GET /api/v1/orders/files/{id}/report.csv``: the report as CSV.

The format of the files is in ``apps/orders/ORDER_FILES.md`` (with the XSD and the JSON Schema).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.http import HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import exceptions, generics, serializers
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.selectors import user_requires_mfa
from apps.orders.models import OrderFile
from apps.orders.order_files import OrderFileTooLarge, order_file_max_bytes
from apps.orders.selectors_files import (
    order_file_get,
    order_file_progress,
    order_file_report_csv,
    order_file_report_rows,
    order_files_list,
)
from apps.orders.services_files import OUTCOMES, order_file_receive
from apps.shops.access import principal_allows
from apps.shops.api.permissions import shop_principal_get
from apps.shops.api.serializers import problem_responses
from apps.shops.errors import ShopPermissionDenied
from apps.shops.models import ApiKey, Membership, Shop
from apps.shops.permissions import Perm
from apps.shops.selectors import user_memberships

TAGS = ["order files"]
FILE_ID_PARAMETER = OpenApiParameter("file_id", int, OpenApiParameter.PATH, description="The order file's id.")
# Room for the multipart envelope around the file itself.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


@dataclass(frozen=True)
class Caller:
    """Who is acting: ``shop`` is the one shop they act for (None: platform staff, every shop)."""

    shop: Shop | None
    user: object | None
    label: str


class PersonOrApiKey(BasePermission):
    """A signed-in person or a shop API key; :func:`_caller` then decides what they may do."""

    def has_permission(self, request, view) -> bool:
        if isinstance(request.auth, ApiKey):
            return True
        if not request.user or not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        return True


def _no_shop() -> exceptions.NotFound:
    return exceptions.NotFound(_("No such shop."))


def _no_file() -> exceptions.NotFound:
    return exceptions.NotFound(_("No such order file."))


def _denied(principal: ApiKey | Membership, perm: Perm) -> ShopPermissionDenied:
    if isinstance(principal, ApiKey):
        return ShopPermissionDenied(
            _("This API key may not do this (%(perm)s): it needs the scope orders. Create a key with it.")
            % {"perm": perm.label},
            code="scope-missing",
        )
    return ShopPermissionDenied(
        _("Your role in this shop does not allow this (%(perm)s). Ask the shop owner.") % {"perm": perm.label}
    )


def _staff(request) -> bool:
    user = request.user
    if isinstance(request.auth, ApiKey) or not getattr(user, "is_staff", False):
        return False
    if user_requires_mfa(user=user) and not getattr(user, "is_verified", lambda: False)():
        raise ShopPermissionDenied(
            _("Verify with two-factor authentication first, then try again."), code="mfa-required"
        )
    return True


def _caller(request, *, shop_slug: str, perm: Perm) -> Caller:
    """The caller acting for ``shop_slug`` (may be blank: a key's own shop, a member's only shop,
    staff's every shop), after checking they may do ``perm`` there. 404 for a shop they may not see."""
    if isinstance(request.auth, ApiKey):
        key = request.auth
        if shop_slug and shop_slug != key.shop.slug:
            raise _no_shop()
        principal = shop_principal_get(request=request, shop_slug=key.shop.slug)
        if not principal_allows(principal, perm):
            raise _denied(principal, perm)
        return Caller(shop=key.shop, user=None, label=_("API key %(name)s") % {"name": key.name})
    if _staff(request):
        shop = None
        if shop_slug:
            shop = Shop.objects.filter(slug=shop_slug).first()
            if shop is None:
                raise _no_shop()
        return Caller(shop=shop, user=request.user, label=request.user.email)
    if not shop_slug:
        memberships = [m for m in user_memberships(user=request.user) if principal_allows(m, perm)]
        if len(memberships) != 1:
            raise exceptions.ValidationError(
                {"shop": [_("Name the shop the file is for by its slug (you act for several shops, or none).")]}
            )
        shop_slug = memberships[0].shop.slug
    principal = shop_principal_get(request=request, shop_slug=shop_slug)
    if not principal_allows(principal, perm):
        raise _denied(principal, perm)
    return Caller(shop=principal.shop, user=request.user, label=request.user.email)


def _file_for(request, file_id: int, perm: Perm) -> OrderFile:
    """The file, if the caller may see it: a key's or member's shop's file, any file for staff."""
    if isinstance(request.auth, ApiKey):
        caller = _caller(request, shop_slug="", perm=perm)
        return order_file_get(pk=file_id, shop=caller.shop)
    if _staff(request):
        return order_file_get(pk=file_id)
    order_file = order_file_get(pk=file_id)
    if order_file.shop is None:
        raise _no_file()
    try:
        _caller(request, shop_slug=order_file.shop.slug, perm=perm)
    except exceptions.NotFound as exc:
        raise _no_file() from exc
    return order_file


# --- serializers ---------------------------------------------------------------------------------


class OrderFileUploadInputSerializer(serializers.Serializer):
    file = serializers.FileField(
        allow_empty_file=True,
        help_text="The XML or JSON file of orders (format told by its content; see the order file format).",
    )
    shop = serializers.SlugField(
        required=False,
        allow_blank=True,
        help_text="The shop the file is for. Members: which of their shops (may be left out when they manage "
        "orders for one shop only). Staff: pins the file to one shop; left out, orders may be for any shop. "
        "Keys: their own shop only.",
    )


class OrderFileFilterSerializer(serializers.Serializer):
    shop = serializers.SlugField(required=False, allow_blank=True, help_text="Members and staff: whose files.")


class OrderFileReportFilterSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=OUTCOMES, required=False, help_text="Only the orders with this outcome.")


class ReportErrorSerializer(serializers.Serializer):
    field = serializers.CharField(allow_blank=True, help_text="The order's field at fault, e.g. `lines[0].sku`.")
    message = serializers.CharField()


class ReportRowSerializer(serializers.Serializer):
    position = serializers.IntegerField(help_text="The order's place in the file, from 1.")
    external_ref = serializers.CharField(allow_blank=True)
    shop = serializers.CharField(allow_blank=True)
    outcome = serializers.ChoiceField(choices=OUTCOMES)
    errors = ReportErrorSerializer(many=True, help_text="Why the order was rejected (empty otherwise).")
    intake_id = serializers.IntegerField(allow_null=True, help_text="The incoming order made (or found) for it.")
    intake_status = serializers.CharField(
        allow_blank=True, help_text="Where that incoming order is now in the pipeline (e.g. `done`, `rejected`)."
    )
    intake_errors = ReportErrorSerializer(many=True, help_text="Why the pipeline rejected it later, if it did.")
    order = serializers.CharField(allow_blank=True, help_text="The order's number once it was made.")


class OrderFileOutputSerializer(serializers.ModelSerializer):
    shop = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    name = serializers.CharField(source="original_name")
    progress = serializers.SerializerMethodField(help_text="How far processing has gone, 0–100.")
    url = serializers.SerializerMethodField()
    report_csv_url = serializers.SerializerMethodField()

    class Meta:
        model = OrderFile
        fields = [
            "id",
            "name",
            "format",
            "size",
            "sha256",
            "shop",
            "status",
            "error",
            "total",
            "accepted",
            "duplicates",
            "rejected",
            "progress",
            "created_at",
            "updated_at",
            "url",
            "report_csv_url",
        ]
        read_only_fields = fields

    def get_progress(self, order_file: OrderFile) -> int:
        return order_file_progress(order_file=order_file)

    def _url(self, order_file: OrderFile, suffix: str = "") -> str:
        path = f"/api/v1/orders/files/{order_file.pk}{suffix}"
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path

    def get_url(self, order_file: OrderFile) -> str:
        return self._url(order_file)

    def get_report_csv_url(self, order_file: OrderFile) -> str:
        return self._url(order_file, "/report.csv")


class OrderFileDetailOutputSerializer(OrderFileOutputSerializer):
    report = serializers.SerializerMethodField(help_text="Every order of the file with its outcome, in file order.")

    class Meta(OrderFileOutputSerializer.Meta):
        fields = [*OrderFileOutputSerializer.Meta.fields, "report"]
        read_only_fields = fields

    @extend_schema_field(ReportRowSerializer(many=True))
    def get_report(self, order_file: OrderFile) -> list[dict]:
        return order_file_report_rows(order_file=order_file, outcome=self.context.get("outcome", ""))


# --- views ---------------------------------------------------------------------------------------


class OrderFileCursorPagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 100


@extend_schema(tags=TAGS)
class OrderFileListCreateApi(generics.ListAPIView):
    """Upload a batch file of orders (``POST``), or list the caller's files (``GET``)."""

    permission_classes = [PersonOrApiKey]
    parser_classes = [MultiPartParser, FormParser]
    serializer_class = OrderFileOutputSerializer
    pagination_class = OrderFileCursorPagination

    def get_queryset(self):
        filters = OrderFileFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        caller = _caller(self.request, shop_slug=filters.validated_data.get("shop", ""), perm=Perm.ORDERS_VIEW)
        return order_files_list(shop=caller.shop)

    @extend_schema(
        operation_id="order_files_create",
        description="Upload a batch file of orders (XML or JSON, told by its content) as the multipart field "
        "`file`. It is stored and processed order by order in the background; follow the `Location`.",
        request={"multipart/form-data": OrderFileUploadInputSerializer},
        responses={
            202: OpenApiResponse(
                OrderFileOutputSerializer,
                description="Received and queued; follow the `Location` (the file's `url`) for progress and report.",
            ),
            **problem_responses(400, 401, 403, 404, 413, 415, 422),
        },
    )
    def post(self, request):
        # Refuse an oversized upload from its declared length, before reading it.
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
        if declared > order_file_max_bytes() + MULTIPART_OVERHEAD_BYTES:
            limit = order_file_max_bytes()
            raise OrderFileTooLarge(
                _(
                    "The upload is %(size)s bytes; order files may be at most %(limit)s bytes. Split it into smaller files."
                )
                % {"size": f"{declared:,}", "limit": f"{limit:,}"},
                extra={"max_bytes": limit},
            )
        data = OrderFileUploadInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        caller = _caller(request, shop_slug=data.validated_data.get("shop", ""), perm=Perm.ORDERS_MANAGE)
        order_file = order_file_receive(
            uploaded_file=data.validated_data["file"], shop=caller.shop, user=caller.user, label=caller.label
        )
        order_file.refresh_from_db()  # an eager (test) run has processed it already
        body = OrderFileOutputSerializer(order_file, context={"request": request}).data
        return Response(body, status=202, headers={"Location": body["url"]})

    @extend_schema(
        operation_id="order_files_list",
        description="The caller's files, newest first: a key's shop's, a member's shop's (`shop` names which "
        "when they have several), every file for staff (or `shop`'s).",
        parameters=[OrderFileFilterSerializer],
        responses={200: OrderFileOutputSerializer(many=True), **problem_responses(400, 401, 403, 404)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


@extend_schema(tags=TAGS, parameters=[FILE_ID_PARAMETER])
class OrderFileDetailApi(APIView):
    """One order file: status, counters, progress and the report of every order in it."""

    permission_classes = [PersonOrApiKey]

    @extend_schema(
        operation_id="order_files_retrieve",
        parameters=[OrderFileReportFilterSerializer],
        responses={200: OrderFileDetailOutputSerializer, **problem_responses(400, 401, 403, 404)},
    )
    def get(self, request, file_id: int):
        filters = OrderFileReportFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        order_file = _file_for(request, file_id, Perm.ORDERS_VIEW)
        context = {"request": request, "outcome": filters.validated_data.get("outcome", "")}
        return Response(OrderFileDetailOutputSerializer(order_file, context=context).data)


class CsvRenderer(BaseRenderer):
    """Lets a client ask for ``text/csv``; an error still answers as a JSON problem document."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        return data.encode() if isinstance(data, str) else json.dumps(data).encode()


@extend_schema(tags=TAGS, parameters=[FILE_ID_PARAMETER])
class OrderFileReportCsvApi(APIView):
    """The file's report as CSV: position, external reference, shop, outcome, errors, incoming order."""

    permission_classes = [PersonOrApiKey]
    renderer_classes = [JSONRenderer, CsvRenderer]

    @extend_schema(
        operation_id="order_files_report_csv",
        responses={(200, "text/csv"): OpenApiTypes.STR, **problem_responses(401, 403, 404)},
    )
    def get(self, request, file_id: int):
        order_file = _file_for(request, file_id, Perm.ORDERS_VIEW)
        response = HttpResponse(order_file_report_csv(order_file), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="order-file-{order_file.pk}-report.csv"'
        return response
