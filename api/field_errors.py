"""Field errors: our own stable codes, and their messages in English and Spanish.

The validation library's error types and wording are not part of the contract. Each of its
types maps to one of our codes (`PYDANTIC_CODES`, the one table), our validators raise
`FieldProblem` with a code of ours, and the message a client may show next to a field comes
from `MESSAGES` in the language the request asked for (Accept-Language), never from the
library's English text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

LANGUAGES: Final = ("en", "es")
DEFAULT_LANGUAGE: Final = "en"


class FieldProblem(ValueError):
    """What our validators raise: a code from `MESSAGES` and the values its message needs."""

    def __init__(self, code: str, **params: Any) -> None:
        if code not in MESSAGES:
            raise KeyError(f"no message for field error code {code!r}")
        super().__init__(render(code, DEFAULT_LANGUAGE, params))
        self.code = code
        self.params = params


# code -> {language: message}. A message may name the values of its `params` in braces.
MESSAGES: Final[Mapping[str, Mapping[str, str]]] = {
    "required": {
        "en": "This field is required.",
        "es": "Este campo es obligatorio.",
    },
    "unknown_field": {
        "en": "This field is not part of the request; leave it out.",
        "es": "Este campo no forma parte de la solicitud; omítalo.",
    },
    "too_short": {
        "en": "Must be at least {min_length} characters long.",
        "es": "Debe tener al menos {min_length} caracteres.",
    },
    "too_long": {
        "en": "Must be at most {max_length} characters long.",
        "es": "Debe tener como máximo {max_length} caracteres.",
    },
    "too_few_items": {
        "en": "Must have at least {min_length} items.",
        "es": "Debe tener al menos {min_length} elementos.",
    },
    "too_many_items": {
        "en": "Must have at most {max_length} items.",
        "es": "Debe tener como máximo {max_length} elementos.",
    },
    "too_small": {
        "en": "Must be at least {limit}.",
        "es": "Debe ser como mínimo {limit}.",
    },
    "too_large": {
        "en": "Must be at most {limit}.",
        "es": "Debe ser como máximo {limit}.",
    },
    "wrong_type": {
        "en": "Must be of JSON type {expected}.",
        "es": "Debe ser del tipo JSON {expected}.",
    },
    "invalid_choice": {
        "en": "Must be one of: {choices}.",
        "es": "Debe ser uno de estos valores: {choices}.",
    },
    "invalid_format": {
        "en": "Is not in the expected format.",
        "es": "No tiene el formato esperado.",
    },
    "invalid_date": {
        "en": "Must be a date like 2019-09-19 (or a timestamp with its zone).",
        "es": "Debe ser una fecha como 2019-09-19 (o una marca de tiempo con su zona).",
    },
    "invalid_json": {
        "en": "The body is not valid JSON.",
        "es": "El cuerpo no es JSON válido.",
    },
    "invalid_email": {
        "en": "Is not a valid email address.",
        "es": "No es una dirección de correo electrónico válida.",
    },
    "disposable_email": {
        "en": "Addresses from this provider are not accepted; please use your usual email.",
        "es": "No se aceptan direcciones de este proveedor; use su correo habitual.",
    },
    "email_domain_blocked": {
        "en": "Addresses from this provider are not accepted; please use your usual email.",
        "es": "No se aceptan direcciones de este proveedor; use su correo habitual.",
    },
    "invalid_zip_code": {
        "en": "Must be a US ZIP code: 5 digits, or ZIP+4 like 32801-1234.",
        "es": "Debe ser un código postal de EE. UU.: 5 dígitos, o ZIP+4 como 32801-1234.",
    },
    "unknown_postal_code": {
        "en": "Is not a US ZIP code in use.",
        "es": "No es un código postal de EE. UU. en uso.",
    },
    "invalid_postal_code": {
        "en": "Must be 1 to {max_length} letters, digits, spaces or hyphens.",
        "es": "Debe tener de 1 a {max_length} letras, dígitos, espacios o guiones.",
    },
    "invalid_country": {
        "en": "Must be an ISO 3166-1 alpha-2 country code, e.g. US.",
        "es": "Debe ser un código de país ISO 3166-1 alfa-2, p. ej. US.",
    },
    "control_characters": {
        "en": "Must not contain control characters.",
        "es": "No debe contener caracteres de control.",
    },
    "formula_prefix": {
        "en": "Must not start with =, +, -, or @.",
        "es": "No debe empezar por =, +, - ni @.",
    },
    "contains_address": {
        "en": "Must not contain a web or email address.",
        "es": "No debe contener una dirección web ni de correo.",
    },
    "unstorable_text": {
        "en": "Contains a character no text may hold (NUL or an unpaired surrogate).",
        "es": "Contiene un carácter que ningún texto puede llevar (NUL o un sustituto suelto).",
    },
    "unknown_parameter": {
        "en": "Not a parameter of this operation; leave it out.",
        "es": "No es un parámetro de esta operación; omítalo.",
    },
    "invalid_cursor": {
        "en": "Not a valid cursor: pass the `next_cursor` of the previous page.",
        "es": "No es un cursor válido: use el `next_cursor` de la página anterior.",
    },
    "invalid_idempotency_key": {
        "en": "Must be 1 to 255 visible ASCII characters.",
        "es": "Debe tener de 1 a 255 caracteres ASCII visibles.",
    },
    "idempotency_key_reused": {
        "en": "Already used with a different request body.",
        "es": "Ya se usó con otro cuerpo de solicitud.",
    },
    "invalid": {
        "en": "Is not valid.",
        "es": "No es válido.",
    },
}

# The JSON type named by each of the validation library's `*_type`/`*_parsing` errors.
_JSON_TYPES: Final = {
    "string": "string",
    "int": "integer",
    "float": "number",
    "decimal": "number",
    "bool": "boolean",
    "list": "array",
    "tuple": "array",
    "set": "array",
    "dict": "object",
    "model": "object",
    "model_attributes": "object",
    "dataclass": "object",
    "none": "null",
}

# The validation library's error type -> our code. Anything not here is `invalid`.
PYDANTIC_CODES: Final[Mapping[str, str]] = {
    "missing": "required",
    "extra_forbidden": "unknown_field",
    "string_too_short": "too_short",
    "string_too_long": "too_long",
    "too_short": "too_few_items",
    "too_long": "too_many_items",
    "greater_than": "too_small",
    "greater_than_equal": "too_small",
    "less_than": "too_large",
    "less_than_equal": "too_large",
    "literal_error": "invalid_choice",
    "enum": "invalid_choice",
    "string_pattern_mismatch": "invalid_format",
    "url_parsing": "invalid_format",
    "url_scheme": "invalid_format",
    "json_invalid": "invalid_json",
    "date_parsing": "invalid_date",
    "date_from_datetime_parsing": "invalid_date",
    "date_from_datetime_inexact": "invalid_date",
    "date_type": "invalid_date",
    "datetime_parsing": "invalid_date",
    "datetime_from_date_parsing": "invalid_date",
    "datetime_type": "invalid_date",
    "timezone_aware": "invalid_date",
    **{f"{name}_type": "wrong_type" for name in _JSON_TYPES},
    **{f"{name}_parsing": "wrong_type" for name in ("int", "float", "bool", "decimal")},
    "int_from_float": "wrong_type",
}


def render(code: str, lang: str, params: Mapping[str, Any] | None = None) -> str:
    templates = MESSAGES.get(code, MESSAGES["invalid"])
    return templates.get(lang, templates[DEFAULT_LANGUAGE]).format_map(dict(params or {}))


def from_pydantic(error: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """Our code, and the values its message needs, for one of the validation library's errors."""
    kind = str(error.get("type", ""))
    context: Mapping[str, Any] = error.get("ctx") or {}
    cause = context.get("error")
    if isinstance(cause, FieldProblem):
        return cause.code, dict(cause.params)
    code = PYDANTIC_CODES.get(kind, "invalid")
    if code == "too_short" and context.get("min_length") == 1:
        return "required", {}  # an empty string is a value not given
    if code in ("too_short", "too_long", "too_few_items", "too_many_items"):
        key = "min_length" if code in ("too_short", "too_few_items") else "max_length"
        return code, {key: context.get(key, "?")}
    if code in ("too_small", "too_large"):
        limit = next((context[k] for k in ("ge", "gt", "le", "lt") if k in context), "?")
        return code, {"limit": limit}
    if code == "invalid_choice":
        choices = re.findall(r"'([^']*)'", str(context.get("expected", "")))
        return code, {"choices": ", ".join(choices) or "?"}
    if code == "wrong_type":
        name = kind.removesuffix("_type").removesuffix("_parsing").removesuffix("_from_float")
        return code, {"expected": _JSON_TYPES.get(name, "?")}
    return code, {}
