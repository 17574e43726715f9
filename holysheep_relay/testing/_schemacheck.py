"""A small JSON-Schema checker for tests (no third-party dependency).

``schema_errors(instance, schema)`` returns a list of human-readable errors (empty when
valid). It covers the subset used by tool parameters and structured outputs: ``type``
(including lists), ``enum``, ``const``, ``properties``, ``required``,
``additionalProperties``, ``items`` / ``prefixItems``, ``minItems`` / ``maxItems``,
``uniqueItems``, ``minLength`` / ``maxLength``, numeric bounds, ``multipleOf``,
``anyOf`` / ``oneOf`` / ``allOf`` and local ``$ref``. ``format`` and ``pattern`` are not asserted.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["schema_errors"]

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "boolean": (bool,),
    "null": (type(None),),
}


def _is_type(value: Any, kind: str) -> bool:
    if kind == "integer":
        if isinstance(value, float):
            return value.is_integer()
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, _TYPES.get(kind, (object,)))


def _resolve(root: dict[str, Any], ref: str) -> Any:
    node: Any = root
    for token in ref.lstrip("#").split("/"):
        if token:
            token = token.replace("~1", "/").replace("~0", "~")
            node = node[int(token)] if isinstance(node, list) else node[token]
    return node


def _check(value: Any, schema: Any, root: dict[str, Any], path: str, out: list[str]) -> None:
    if schema is True or schema == {}:
        return
    if schema is False:
        out.append(f"{path}: no value allowed")
        return
    if not isinstance(schema, dict):
        return
    _check_combinators(value, schema, root, path, out)
    if "const" in schema and value != schema["const"]:
        out.append(f"{path}: {value!r} != const {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{path}: {value!r} not in enum {schema['enum']!r}")
    kind = schema.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if not any(_is_type(value, k) for k in kinds):
            out.append(f"{path}: {json.dumps(value)} is not of type {kind}")
            return
    if isinstance(value, dict):
        _check_object(value, schema, root, path, out)
    elif isinstance(value, list):
        _check_array(value, schema, root, path, out)
    elif isinstance(value, str):
        _check_string(value, schema, path, out)
    elif _is_type(value, "number"):
        _check_number(value, schema, path, out)


def _check_combinators(
    value: Any, schema: dict[str, Any], root: dict[str, Any], path: str, out: list[str]
) -> None:
    """``$ref``, ``allOf``, ``anyOf``, ``oneOf``."""
    if "$ref" in schema:
        _check(value, _resolve(root, schema["$ref"]), root, path, out)
    for part in schema.get("allOf", []):
        _check(value, part, root, path, out)
    if "anyOf" in schema and all(schema_errors(value, s, root) for s in schema["anyOf"]):
        out.append(f"{path}: matches no anyOf branch")
    if "oneOf" in schema:
        matches = sum(1 for s in schema["oneOf"] if not schema_errors(value, s, root))
        if matches != 1:
            out.append(f"{path}: matches {matches} oneOf branches, expected 1")


def _check_object(
    value: dict[str, Any], schema: dict[str, Any], root: dict[str, Any], path: str, out: list[str]
) -> None:
    properties = schema.get("properties", {})
    for key in schema.get("required", []):
        if key not in value:
            out.append(f"{path}: missing required property {key!r}")
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        if key in properties:
            _check(item, properties[key], root, f"{path}/{key}", out)
        elif extra is False:
            out.append(f"{path}: unexpected property {key!r}")
        elif isinstance(extra, dict):
            _check(item, extra, root, f"{path}/{key}", out)


def _check_array(
    value: list[Any], schema: dict[str, Any], root: dict[str, Any], path: str, out: list[str]
) -> None:
    prefix = schema.get("prefixItems", [])
    for index, item in enumerate(value):
        if index < len(prefix):
            _check(item, prefix[index], root, f"{path}/{index}", out)
        elif "items" in schema:
            _check(item, schema["items"], root, f"{path}/{index}", out)
    if len(value) < schema.get("minItems", 0):
        out.append(f"{path}: fewer than minItems")
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        out.append(f"{path}: more than maxItems")
    if schema.get("uniqueItems"):
        dumped = [json.dumps(v, sort_keys=True) for v in value]
        if len(set(dumped)) != len(dumped):
            out.append(f"{path}: items not unique")


def _check_string(value: str, schema: dict[str, Any], path: str, out: list[str]) -> None:
    if len(value) < schema.get("minLength", 0):
        out.append(f"{path}: shorter than minLength")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        out.append(f"{path}: longer than maxLength")


def _check_number(value: float, schema: dict[str, Any], path: str, out: list[str]) -> None:
    if "minimum" in schema and value < schema["minimum"]:
        out.append(f"{path}: below minimum")
    if "maximum" in schema and value > schema["maximum"]:
        out.append(f"{path}: above maximum")
    low, high = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if isinstance(low, (int, float)) and not isinstance(low, bool) and value <= low:
        out.append(f"{path}: not above exclusiveMinimum")
    if isinstance(high, (int, float)) and not isinstance(high, bool) and value >= high:
        out.append(f"{path}: not below exclusiveMaximum")
    multiple = schema.get("multipleOf")
    if isinstance(multiple, (int, float)) and multiple > 0:
        ratio = value / multiple
        if abs(ratio - round(ratio)) > 1e-9:
            out.append(f"{path}: not a multiple of {multiple}")


def schema_errors(instance: Any, schema: Any, root: dict[str, Any] | None = None) -> list[str]:
    """Errors found validating ``instance`` against ``schema`` (``[]`` when it is valid)."""
    out: list[str] = []
    base = root if root is not None else (schema if isinstance(schema, dict) else {})
    _check(instance, schema, base, "$", out)
    return out
