"""Reading batch order files (XML and JSON) into order payloads, one per order in the file.

The format is documented in ``apps/orders/ORDER_FILES.md``, with the JSON Schema
(``schemas/orders.schema.json``) and the XSD (``schemas/orders.xsd``) beside it. Every order, from
either format, comes out in the shape of the body of ``POST /api/v1/orders`` (money as decimal
strings) and is checked against the JSON Schema's ``order`` definition, so both formats obey the
same rules and give the same error messages.

Two kinds of problem:

- a *file-level* problem (not XML or JSON at all, empty, too large, too many orders, malformed, a
  DTD or entity declarations in XML, NaN in JSON…) raises :class:`OrderFileError` (or a subclass)
  and nothing in the file is read;
- an *order-level* problem (a missing attribute, a negative quantity, a price written as a number…)
  is reported on that order (:attr:`ParsedOrder.errors`) and the other orders go on.

XML is only ever parsed with ``defusedxml``, with DTDs refused outright: no entity is expanded and
nothing outside the file is fetched. JSON is parsed with the standard library, refusing NaN and
Infinity, reporting duplicate keys and money written as JSON numbers (``12.5`` is ambiguous about
rounding; ``"12.50"`` is not).
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree as SafeElementTree
from django.conf import settings
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from jsonschema import Draft202012Validator

from .errors import IntakeError

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
JSON_SCHEMA_PATH = SCHEMA_DIR / "orders.schema.json"
XSD_PATH = SCHEMA_DIR / "orders.xsd"

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_ORDERS = 20_000
DEFAULT_CHANNEL = "batch"
MAX_QUANTITY = 999  # as apps.orders.services_intake
MONEY_FIELDS = frozenset({"discount", "unit_price"})
SNIFF_BYTES = 512


class OrderFileError(IntakeError):
    """The file as a whole cannot be read (nothing in it is processed)."""

    status_code = 422
    code = "invalid-order-file"
    title = "The order file cannot be read"


class OrderFileTooLarge(OrderFileError):
    status_code = 413
    code = "order-file-too-large"
    title = "The order file is too large"


class OrderFileUnsupported(OrderFileError):
    status_code = 415
    code = "unsupported-order-file"
    title = "The file is not an XML or JSON order file"


@dataclass(frozen=True)
class ParsedOrder:
    """One order of a file: its ``payload`` (API shape) when it is well formed, else ``errors``
    (``[{"field", "message"}]``, fields named as in the API shape, e.g. ``lines[0].quantity``)."""

    position: int  # 1-based, in file order
    external_ref: str = ""
    shop: str = ""
    channel: str = DEFAULT_CHANNEL
    payload: dict[str, Any] | None = None
    errors: list[dict[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.payload is not None and not self.errors


def order_file_max_bytes() -> int:
    return int(getattr(settings, "ORDER_FILE_MAX_BYTES", DEFAULT_MAX_BYTES))


def order_file_max_orders() -> int:
    return int(getattr(settings, "ORDER_FILE_MAX_ORDERS", DEFAULT_MAX_ORDERS))


def order_file_size_check(size: int) -> None:
    """Raise :class:`OrderFileTooLarge` for a file over ``ORDER_FILE_MAX_BYTES``, and
    :class:`OrderFileError` for an empty one."""
    limit = order_file_max_bytes()
    if size > limit:
        raise OrderFileTooLarge(
            _(
                "The file is %(size)s bytes; order files may be at most %(limit)s bytes. Split it into "
                "smaller files and upload each."
            )
            % {"size": f"{size:,}", "limit": f"{limit:,}"},
            extra={"max_bytes": limit},
        )
    if size == 0:
        raise OrderFileError(_("The file is empty. Upload an XML or JSON file of orders."), code="empty-order-file")


def order_file_sniff(head: bytes) -> str | None:
    """``"xml"`` or ``"json"`` by the file's first bytes (after a byte-order mark and white space),
    or None when it looks like neither."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = head[:SNIFF_BYTES].decode("utf-16", errors="ignore")
    else:
        text = head.removeprefix(codecs.BOM_UTF8)[:SNIFF_BYTES].decode("utf-8", errors="ignore")
    text = text.lstrip()
    if text.startswith("<"):
        return "xml"
    if text.startswith(("{", "[")):
        return "json"
    return None


def order_file_format_check(head: bytes) -> str:
    """The file's format by its content; :class:`OrderFileUnsupported` when it is neither."""
    file_format = order_file_sniff(head)
    if file_format is None:
        raise OrderFileUnsupported(
            _(
                "This is not an XML or JSON file of orders (it should start with “<orders>” or "
                '“{"orders": [”). See the order file format in the API documentation.'
            )
        )
    return file_format


def order_file_parse(content: bytes, *, file_format: str) -> list[ParsedOrder]:
    """Every order of the file, in file order; raises :class:`OrderFileError` for a file-level problem."""
    order_file_size_check(len(content))
    if file_format == "xml":
        return _parse_xml(content)
    if file_format == "json":
        return _parse_json(content)
    raise OrderFileUnsupported(_("Order files are XML or JSON."))


def _too_many(count: int) -> OrderFileError:
    limit = order_file_max_orders()
    return OrderFileError(
        _("The file holds %(count)s orders; a file may hold at most %(limit)s. Split it into smaller files.")
        % {"count": f"{count:,}", "limit": f"{limit:,}"},
        code="too-many-orders",
        extra={"max_orders": limit},
    )


# --- Validation shared by both formats -------------------------------------------------------------


@cache
def order_json_schema() -> dict[str, Any]:
    return json.loads(JSON_SCHEMA_PATH.read_text(encoding="utf-8"))


@cache
def _order_validator() -> Draft202012Validator:
    schema = order_json_schema()
    return Draft202012Validator({"$ref": "#/$defs/order", "$defs": schema["$defs"]})


def _join(base: str, name: str | int) -> str:
    """``lines`` + 0 → ``lines[0]``, ``lines[0]`` + ``sku`` → ``lines[0].sku`` (as the intake errors)."""
    if isinstance(name, int):
        return f"{base}[{name}]"
    return f"{base}.{name}" if base else name


def _path(parts) -> str:
    path = ""
    for part in parts:
        path = _join(path, part)
    return path


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def _pattern_message(name: str) -> str:
    messages = {
        "currency": _("Use the three-letter ISO currency code in capitals, e.g. SGD."),
        "placed_at": _("Use an ISO 8601 date and time with a time zone, e.g. 2026-05-01T10:15:00+08:00."),
        "shop": _("Use the shop's slug (its web address): letters, digits, hyphens and underscores."),
        "external_ref": _("The external reference must not be blank."),
    }
    if name in MONEY_FIELDS:
        return _("Write the amount as a decimal with at most two decimals, e.g. “12.50”.")
    return messages.get(name, _("This value is not in the expected form."))


def _type_message(name: str, expected: Any, value: Any) -> str:
    if name == "" and expected == "object":
        return _('Each order must be an object: {"shop": …, "external_ref": …, "lines": [ … ]}.')
    if name in MONEY_FIELDS and _is_number(value):
        return _("Write money as a string, e.g. “12.50”, not as a number (numbers can lose cents).")
    if name in MONEY_FIELDS:
        return _("Write the amount as a decimal string, e.g. “12.50”.")
    return {
        "integer": _("Must be a whole number, e.g. 2."),
        "string": _("Must be text."),
        "object": _("Must be an object."),
        "array": _("Must be a list."),
    }.get(expected, _("Must be of type %(type)s.") % {"type": expected})


def _schema_error_rows(error) -> list[dict[str, str]]:
    path = _path(error.absolute_path)
    name = str(error.absolute_path[-1]) if error.absolute_path else ""
    validator, value, rule = error.validator, error.instance, error.validator_value
    if validator == "required":
        return [
            {"field": _join(path, missing), "message": _("This field is required.")}
            for missing in rule
            if missing not in value
        ]
    if validator == "additionalProperties":
        known = error.schema.get("properties", {})
        return [
            {"field": _join(path, extra), "message": _("Unknown field: remove it or check its spelling.")}
            for extra in value
            if extra not in known
        ]
    if validator == "type":
        message = _type_message(name, rule, value)
    elif validator == "pattern":
        message = _pattern_message(name)
    elif validator == "enum":
        message = _("Must be one of: %(values)s.") % {"values": ", ".join(str(v) for v in rule)}
    elif validator in ("minimum", "maximum") and name == "quantity":
        message = _("The quantity must be a whole number from 1 to %(max)s.") % {"max": MAX_QUANTITY}
    elif validator == "minimum":
        message = _("Must be at least %(min)s.") % {"min": rule}
    elif validator == "maximum":
        message = _("Must be at most %(max)s.") % {"max": rule}
    elif validator == "minLength":
        message = _("Must not be empty.")
    elif validator == "maxLength":
        message = _("At most %(count)s characters.") % {"count": rule}
    elif validator == "minItems" and name == "lines":
        message = _("An order needs at least one line.")
    elif validator == "maxItems" and name == "lines":
        message = _("At most %(count)s lines per order: split it into several orders.") % {"count": rule}
    else:
        message = error.message
    return [{"field": path, "message": message}]


def order_payload_errors(data: Any) -> list[dict[str, str]]:
    """The structural errors of one order (API shape) against the JSON Schema, as
    ``[{"field", "message"}]`` sorted by field; empty when it is well formed."""
    rows: list[dict[str, str]] = []
    for error in _order_validator().iter_errors(data):
        rows.extend(_schema_error_rows(error))
    if (
        isinstance(data, dict)
        and isinstance(data.get("placed_at"), str)
        and not any(row["field"] == "placed_at" for row in rows)
    ):
        try:
            placed_at = parse_datetime(data["placed_at"])
        except ValueError:
            placed_at = None
        if placed_at is None:
            rows.append({"field": "placed_at", "message": _("This is not a real date and time.")})
    unique = {(row["field"], row["message"]): row for row in rows}
    return sorted(unique.values(), key=lambda row: (row["field"], row["message"]))


def _parsed(position: int, data: Any, structural: list[dict[str, str]]) -> ParsedOrder:
    """A :class:`ParsedOrder` from one order's data in the API shape and the errors found while
    reading it (XML structure, JSON duplicate keys)."""
    fields = data if isinstance(data, dict) else {}
    external_ref = fields.get("external_ref")
    shop = fields.get("shop")
    channel = fields.get("channel", DEFAULT_CHANNEL)
    errors = structural + order_payload_errors(data)
    common = {
        "position": position,
        "external_ref": external_ref if isinstance(external_ref, str) else "",
        "shop": shop if isinstance(shop, str) else "",
        "channel": channel if isinstance(channel, str) else DEFAULT_CHANNEL,
    }
    if errors:
        return ParsedOrder(**common, errors=errors)
    payload = _plain(data)
    payload.setdefault("channel", DEFAULT_CHANNEL)
    return ParsedOrder(**common, payload=payload)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


# --- JSON ------------------------------------------------------------------------------------------


class _JsonObject(dict):
    """A JSON object that remembers the keys it had more than once (the last value wins, as in
    ``json``, but the order carrying it is rejected)."""

    duplicates: tuple[str, ...] = ()


class _JsonConstantError(ValueError):
    pass


def _json_object(pairs: list[tuple[str, Any]]) -> _JsonObject:
    obj = _JsonObject()
    duplicates = []
    for key, value in pairs:
        if key in obj:
            duplicates.append(key)
        obj[key] = value
    obj.duplicates = tuple(duplicates)
    return obj


def _json_constant(name: str) -> Any:
    raise _JsonConstantError(name)


def _json_duplicates(value: Any, path: str = "") -> list[dict[str, str]]:
    rows = []
    if isinstance(value, _JsonObject):
        rows.extend(
            {"field": _join(path, key), "message": _("This key appears more than once; keep one.")}
            for key in dict.fromkeys(value.duplicates)
        )
        for key, item in value.items():
            rows.extend(_json_duplicates(item, _join(path, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            rows.extend(_json_duplicates(item, _join(path, index)))
    return rows


def _parse_json(content: bytes) -> list[ParsedOrder]:
    try:
        text = content.removeprefix(codecs.BOM_UTF8).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise OrderFileError(
            _("The file is not UTF-8 text (byte %(position)s). Save it as UTF-8 and upload it again.")
            % {"position": exc.start + 1}
        ) from exc
    try:
        document = json.loads(text, object_pairs_hook=_json_object, parse_float=Decimal, parse_constant=_json_constant)
    except _JsonConstantError as exc:
        raise OrderFileError(
            _("The file contains %(value)s, which is not valid JSON. Write amounts as strings, e.g. “12.50”.")
            % {"value": exc.args[0]}
        ) from exc
    except json.JSONDecodeError as exc:
        raise OrderFileError(
            _("The file is not valid JSON: %(problem)s at line %(line)s, column %(column)s.")
            % {"problem": exc.msg, "line": exc.lineno, "column": exc.colno}
        ) from exc
    except RecursionError as exc:
        raise OrderFileError(_("The file is nested too deeply to be an order file.")) from exc

    if isinstance(document, list):
        raise OrderFileError(
            _('The file is a JSON list; put the orders in an object instead: {"orders": [ … ]}.'),
            code="invalid-order-file",
        )
    if not isinstance(document, dict) or "orders" not in document:
        raise OrderFileError(_('The file must be a JSON object with the orders in “orders”: {"orders": [ … ]}.'))
    unknown = sorted(set(document) - {"orders"})
    if unknown:
        raise OrderFileError(
            _("Unknown top-level key(s): %(keys)s. The file holds only “orders”.") % {"keys": ", ".join(unknown)}
        )
    if document.duplicates:
        raise OrderFileError(_("The key “orders” appears more than once; put every order in one list."))
    orders = document["orders"]
    if not isinstance(orders, list):
        raise OrderFileError(_("“orders” must be a list of orders."))
    if len(orders) > order_file_max_orders():
        raise _too_many(len(orders))
    return [_parsed(position, data, _json_duplicates(data)) for position, data in enumerate(orders, start=1)]


# --- XML -------------------------------------------------------------------------------------------

_XML_ORDER_ATTRIBUTES = {"shop": "shop", "channel": "channel", "external-ref": "external_ref"}
_XML_TEXT_ELEMENTS = {
    "currency": "currency",
    "placed-at": "placed_at",
    "fulfilment": "fulfilment",
    "payment": "payment",
    "discount": "discount",
    "note": "note",
}
_XML_CUSTOMER_ATTRIBUTES = {"name": "name", "email": "email", "phone": "phone"}
_XML_LINE_ATTRIBUTES = {"sku": "sku", "quantity": "quantity", "unit-price": "unit_price"}
_WHOLE_NUMBER = re.compile(r"^\s*[+-]?[0-9]{1,9}\s*$")


def _xml_text(element: Element) -> str:
    return (element.text or "").strip()


def _xml_tail_or_text_problems(element: Element, path: str) -> list[dict[str, str]]:
    """Text where only elements belong (``<lines>oops<line …/></lines>``)."""
    stray = (element.text or "").strip() or any((child.tail or "").strip() for child in element)
    if stray:
        return [{"field": path, "message": _("Unexpected text inside <%(tag)s>.") % {"tag": element.tag}}]
    return []


def _xml_attributes(element: Element, names: dict[str, str], path: str, target: dict[str, Any], errors: list) -> None:
    for attribute, value in element.attrib.items():
        if attribute not in names:
            errors.append(
                {
                    "field": _join(path, attribute),
                    "message": _("Unknown attribute “%(name)s” on <%(tag)s>.")
                    % {"name": attribute, "tag": element.tag},
                }
            )
            continue
        target[names[attribute]] = value


def _xml_order(element: Element) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """One ``<order>`` in the API shape, with the errors of its XML structure (unknown or repeated
    elements and attributes); the values themselves are checked by the JSON Schema after."""
    data: dict[str, Any] = {}
    errors: list[dict[str, str]] = []
    if element.tag != "order":
        errors.append(
            {"field": "", "message": _("Expected an <order> element, found <%(tag)s>.") % {"tag": element.tag}}
        )
        return data, errors
    _xml_attributes(element, _XML_ORDER_ATTRIBUTES, "", data, errors)
    errors.extend(_xml_tail_or_text_problems(element, ""))
    seen: set[str] = set()
    for child in element:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag in seen:
            errors.append(
                {
                    "field": _XML_TEXT_ELEMENTS.get(tag, tag),
                    "message": _("<%(tag)s> appears more than once; keep one.") % {"tag": tag},
                }
            )
            continue
        seen.add(tag)
        if tag in _XML_TEXT_ELEMENTS:
            if len(child) or child.attrib:
                errors.append(
                    {"field": _XML_TEXT_ELEMENTS[tag], "message": _("<%(tag)s> holds only text.") % {"tag": tag}}
                )
                continue
            data[_XML_TEXT_ELEMENTS[tag]] = _xml_text(child)
        elif tag == "customer":
            customer: dict[str, Any] = {}
            _xml_attributes(child, _XML_CUSTOMER_ATTRIBUTES, "customer", customer, errors)
            if len(child) or _xml_text(child):
                errors.append({"field": "customer", "message": _("<customer> takes attributes only.")})
            data["customer"] = customer
        elif tag == "lines":
            data["lines"] = _xml_lines(child, errors)
        else:
            errors.append(
                {"field": tag, "message": _("Unknown element <%(tag)s> in <order>.") % {"tag": tag or child.tag}}
            )
    return data, errors


def _xml_lines(element: Element, errors: list[dict[str, str]]) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    errors.extend(_xml_tail_or_text_problems(element, "lines"))
    for index, child in enumerate(element):
        path = f"lines[{index}]"
        if child.tag != "line":
            errors.append(
                {"field": path, "message": _("Expected a <line> element, found <%(tag)s>.") % {"tag": child.tag}}
            )
            continue
        line: dict[str, Any] = {}
        _xml_attributes(child, _XML_LINE_ATTRIBUTES, path, line, errors)
        if isinstance(line.get("quantity"), str) and _WHOLE_NUMBER.match(line["quantity"]):
            line["quantity"] = int(line["quantity"])
        lines.append(line)
    return lines


def _parse_xml(content: bytes) -> list[ParsedOrder]:
    try:
        root = SafeElementTree.fromstring(content, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (defusedxml.DTDForbidden, defusedxml.EntitiesForbidden) as exc:
        raise OrderFileError(
            _(
                "The file declares a document type or entities (<!DOCTYPE …>, <!ENTITY …>). Order files "
                "must not: entities are never expanded, for safety. Remove the declarations and upload "
                "the file again."
            ),
            code="xml-declarations-refused",
        ) from exc
    except defusedxml.DefusedXmlException as exc:
        raise OrderFileError(
            _("The file refers to something outside itself, which is refused. Remove the reference."),
            code="xml-declarations-refused",
        ) from exc
    except ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        raise OrderFileError(
            _("The file is not well-formed XML (line %(line)s, column %(column)s). Check the tags are closed.")
            % {"line": line, "column": column + 1}
        ) from exc
    if root.tag != "orders":
        raise OrderFileError(
            _("The XML file must have <orders> as its root element, not <%(tag)s>.") % {"tag": root.tag}
        )
    children = list(root)
    if len(children) > order_file_max_orders():
        raise _too_many(len(children))
    if (root.text or "").strip() or any((child.tail or "").strip() for child in children):
        raise OrderFileError(_("Unexpected text inside <orders>: it holds only <order> elements."))
    parsed = []
    for position, element in enumerate(children, start=1):
        data, errors = _xml_order(element)
        parsed.append(_parsed(position, data, errors))
    return parsed
