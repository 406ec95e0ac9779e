"""Limits everywhere: every string and list in an admin request body is bounded, and the
largest valid body still fits the request size cap (so it is refused field by field, with a
422, never as a whole with a 413)."""

from __future__ import annotations

from typing import Any

from api.config import Settings
from tests.admin.test_access import admin_spec

UTF8_MAX = 4  # bytes a character can take in a request body


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def worst_case_bytes(spec: dict[str, Any], schema: dict[str, Any], where: str) -> int:
    """Bytes of the largest body just past every limit: strings at maxLength + 1 characters
    of 4 bytes each, lists at maxItems + 1 items, every property present."""
    schema = _resolve(spec, schema)
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            return max(worst_case_bytes(spec, s, where) for s in schema[combinator])
    kind = schema.get("type")
    if kind == "object":
        return 2 + sum(
            len(name) + 4 + worst_case_bytes(spec, prop, f"{where}.{name}")
            for name, prop in schema.get("properties", {}).items()
        )
    if kind == "array":
        assert "maxItems" in schema, f"{where}: a list without maxItems"
        item = worst_case_bytes(spec, schema["items"], f"{where}[]")
        return 2 + (schema["maxItems"] + 1) * (item + 1)
    if kind == "string":
        if "enum" in schema:
            return 2 + max(len(v) for v in schema["enum"]) * UTF8_MAX
        if schema.get("format") in ("date", "date-time"):
            return 2 + 64
        assert "maxLength" in schema, f"{where}: a string without maxLength"
        return 2 + (schema["maxLength"] + 1) * UTF8_MAX
    return 32  # numbers, booleans, null


def test_every_admin_body_is_bounded_and_fits_the_size_cap() -> None:
    spec = admin_spec()
    cap = Settings.model_fields["max_body_bytes"].default
    checked = 0
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if not path.startswith("/v1/admin/") or "requestBody" not in operation:
                continue
            schema = operation["requestBody"]["content"]["application/json"]["schema"]
            where = f"{method.upper()} {path}"
            size = worst_case_bytes(spec, schema, where)
            assert size <= cap, f"{where}: a body may reach {size} bytes, over the {cap} cap"
            checked += 1
    assert checked >= 15
