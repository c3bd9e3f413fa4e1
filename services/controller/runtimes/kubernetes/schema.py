"""Pydantic JSON schemas as Kubernetes structural OpenAPI v3 schemas (what a CRD's validation accepts).

A structural schema has a `type` on every node, no `$ref`, no `additionalProperties` beside
`properties`, OpenAPI 3.0 keywords (`nullable`, boolean `exclusiveMinimum`) and none of JSON
Schema's `const`, `examples`, `uniqueItems: true`, `prefixItems`. Unions the API server cannot
express (several non-null variants) keep their fields unchecked by it
(`x-kubernetes-preserve-unknown-fields`); the controller validates every object with the
pydantic model itself, so nothing goes unchecked.
"""

from __future__ import annotations

from typing import Any

# Keywords copied as they are: everything else is converted or dropped.
_KEPT = ("type", "description", "enum", "pattern", "minLength", "maxLength", "minimum", "maximum",
         "minItems", "maxItems", "default")
_FORMATS = {"date-time", "int32", "int64", "float", "double", "byte"}

Schema = dict[str, Any]


def structural(schema: Schema) -> Schema:
    """The structural form of a pydantic `model_json_schema()` (its `$defs` inlined)."""
    return _convert(schema, schema.get("$defs", {}))


def _resolve(node: Schema, defs: dict[str, Schema]) -> Schema:
    while "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        node = {**target, **{key: value for key, value in node.items() if key != "$ref"}}
    return node


def _convert(node: Schema, defs: dict[str, Schema]) -> Schema:
    node = _resolve(node, defs)
    union = node.get("anyOf") or node.get("oneOf")
    if union is not None:
        return _convert_union(node, union, defs)
    out: Schema = {key: node[key] for key in _KEPT if key in node}
    if out.get("default", 0) is None:
        del out["default"]
    if "const" in node:
        out["enum"] = [node["const"]]
    if node.get("format") in _FORMATS:
        out["format"] = node["format"]
    for bound, inclusive in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if bound in node:
            out[inclusive], out[bound] = node[bound], True
    if "type" not in out:
        out["type"] = _infer_type(node)
    if out["type"] == "object":
        if "properties" in node:
            out["properties"] = {name: _convert(child, defs) for name, child in node["properties"].items()}
            if node.get("required"):
                out["required"] = list(node["required"])
        elif isinstance(node.get("additionalProperties"), dict):
            out["additionalProperties"] = _convert(node["additionalProperties"], defs)
        else:
            out["x-kubernetes-preserve-unknown-fields"] = True
    elif out["type"] == "array":
        out["items"] = _array_items(node, defs)
    return out


def _infer_type(node: Schema) -> str:
    if "const" in node:
        return {bool: "boolean", int: "integer", float: "number", str: "string"}[type(node["const"])]
    if "properties" in node or "additionalProperties" in node:
        return "object"
    raise ValueError(f"cannot give a Kubernetes type to the schema {node!r}")


def _array_items(node: Schema, defs: dict[str, Schema]) -> Schema:
    if "items" in node and isinstance(node["items"], dict):
        return _convert(node["items"], defs)
    prefix = [_convert(item, defs) for item in node.get("prefixItems", [])]
    if prefix and all(item == prefix[0] for item in prefix):
        return prefix[0]
    raise ValueError(f"cannot express the array schema {node!r} structurally")


def _convert_union(node: Schema, union: list[Schema], defs: dict[str, Schema]) -> Schema:
    variants = [_resolve(variant, defs) for variant in union]
    present = [variant for variant in variants if variant.get("type") != "null"]
    nullable = len(present) < len(variants)
    outer = {key: node[key] for key in ("description", "default") if key in node and node[key] is not None}
    if len(present) == 1:
        out = {**_convert(present[0], defs), **outer}
    else:
        types = {variant.get("type") for variant in present}
        out = {**outer, "x-kubernetes-int-or-string": True} if types == {"integer", "string"} else {
            **outer, "type": "object" if types == {"object"} else None, "x-kubernetes-preserve-unknown-fields": True,
        }
        if out.get("type") is None:
            out.pop("type", None)
    if nullable:
        out["nullable"] = True
        if "enum" in out:
            out["enum"] = [*out["enum"], None]  # OpenAPI 3.0: a nullable enum lists null
    return out
