"""Deterministic JSON-Schema instance synthesiser: ``synthesize(schema, prompt)``.

Builds a value that validates against ``schema`` using data taken from ``prompt``:

* ``const`` wins, then the first ``enum`` value, then a non-null ``default``;
* integer / number: the numbers found in the prompt, consumed in order (fallback ``3`` /
  ``3.0``), clamped to ``minimum`` / ``maximum`` / exclusive bounds, rounded to ``multipleOf``;
* string: known ``format`` values get a canonical sample, else the prompt's words are used
  in turn (quoted phrases, then proper nouns, then other words), else ``"example"``;
  ``minLength`` / ``maxLength`` honoured;
* boolean: ``true``; null: ``None``; array: ``max(1, minItems)`` items (``prefixItems``
  honoured); object: every declared property (only required ones below ``MAX_DEPTH``);
* ``$ref`` (local JSON pointers such as ``#/$defs/X`` / ``#/definitions/X``), ``allOf``
  (merged), ``anyOf`` / ``oneOf`` (first non-null branch), ``type`` lists (first non-null).

``pattern`` is not interpreted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

__all__ = ["MAX_DEPTH", "prompt_numbers", "prompt_words", "synthesize"]

MAX_DEPTH = 6

_FORMATS: dict[str, str] = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00Z",
    "email": "user@example.com",
    "idn-email": "user@example.com",
    "uri": "https://example.com",
    "url": "https://example.com",
    "iri": "https://example.com",
    "uri-reference": "https://example.com",
    "hostname": "example.com",
    "ipv4": "127.0.0.1",
    "ipv6": "::1",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "duration": "P1D",
}

_STOPWORDS = frozenset(
    " ".join(
        (
            "a an and are as at be but by call can could do does for from get give how i in",
            "into is it its me my of on or please show tell that the this to use using was",
            "what when where which who why will with would you your",
        )
    ).split()
)

_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?")
_WORD = re.compile(r"[^\W\d_][\w'-]*")
_SENTENCE_END = re.compile(r"[.!?]\s*$")
_QUOTED = re.compile(
    r"(?<!\w)(?:'([^'\n]{1,80})'|\"([^\"\n]{1,80})\""
    r"|\u201c([^\u201d\n]{1,80})\u201d|\u2018([^\u2019\n]{1,80})\u2019)(?!\w)"
)


def _number(value: Any) -> float | None:
    """``value`` as a float when it is a JSON number (booleans excluded), else ``None``."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def prompt_numbers(prompt: str) -> list[float]:
    """The numbers appearing in ``prompt``, in order."""
    return [float(match) for match in _NUMBER.findall(prompt)]


def prompt_words(prompt: str) -> list[str]:
    """Candidate string values from ``prompt``: quoted phrases (``'...'``, ``"..."`` and
    typographic quotes) first, then capitalised words not starting a sentence (likely proper nouns),
    then the remaining non-stopwords; no duplicates."""
    quoted: list[str] = []
    for match in _QUOTED.finditer(prompt):
        phrase = next(group for group in match.groups() if group is not None).strip()
        if phrase and phrase not in quoted:
            quoted.append(phrase)
    proper: list[str] = []
    other: list[str] = []
    for match in _WORD.finditer(prompt):
        word = match.group(0).strip("'-")
        if not word or word.lower() in _STOPWORDS:
            continue
        before = prompt[: match.start()]
        sentence_start = not before.strip() or bool(_SENTENCE_END.search(before))
        bucket = proper if word[0].isupper() and not sentence_start else other
        if word not in proper and word not in other and word not in quoted:
            bucket.append(word)
    return quoted + proper + other


class _Synth:
    def __init__(self, root: dict[str, Any], prompt: str) -> None:
        self.root = root
        self.numbers: Iterator[float] = iter(prompt_numbers(prompt))
        self.words = prompt_words(prompt)
        self.word_index = 0

    # -- helpers -----------------------------------------------------------------------------
    def resolve(self, ref: str) -> dict[str, Any]:
        if not ref.startswith("#"):
            return {}
        node: Any = self.root
        for token in ref[1:].split("/"):
            if not token:
                continue
            token = token.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                return {}
        return node if isinstance(node, dict) else {}

    def next_word(self) -> str:
        if not self.words:
            return "example"
        word = self.words[self.word_index % len(self.words)]
        self.word_index += 1
        return word

    def next_number(self, fallback: float) -> float:
        return next(self.numbers, fallback)

    @staticmethod
    def is_null(schema: Any) -> bool:
        if not isinstance(schema, dict):
            return False
        if schema.get("type") == "null" or ("const" in schema and schema["const"] is None):
            return True
        return schema.get("enum") == [None]

    def merge_all_of(self, schema: dict[str, Any]) -> dict[str, Any]:
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema.get("allOf", []):
            if not isinstance(part, dict):
                continue
            if "$ref" in part:
                rest = {k: v for k, v in part.items() if k != "$ref"}
                part = {**self.resolve(part["$ref"]), **rest}
            if "allOf" in part:
                part = self.merge_all_of(part)
            for key, value in part.items():
                if key == "properties" and isinstance(value, dict):
                    merged["properties"] = {**merged.get("properties", {}), **value}
                elif key == "required" and isinstance(value, list):
                    merged["required"] = list(dict.fromkeys([*merged.get("required", []), *value]))
                else:
                    merged.setdefault(key, value)
        return merged

    # -- main dispatch -----------------------------------------------------------------------
    def value(self, schema: Any, depth: int = 0) -> Any:
        if depth > 4 * MAX_DEPTH:  # runaway recursion through required self-references
            return None
        if schema is True or not isinstance(schema, dict):
            return self.next_word()
        if "$ref" in schema:
            target = self.resolve(schema["$ref"])
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            return self.value({**target, **rest}, depth + 1)
        if "allOf" in schema:
            return self.value(self.merge_all_of(schema), depth)
        if "const" in schema:
            return schema["const"]
        enum = schema.get("enum")
        if isinstance(enum, list) and enum:
            return enum[0]
        if schema.get("default") is not None:
            return schema["default"]
        for key in ("anyOf", "oneOf"):
            options = schema.get(key)
            if isinstance(options, list) and options:
                return self.one_of(schema, options, depth)
        kind = self.kind(schema)
        handler = {
            "object": self.object,
            "array": self.array,
            "string": self.string,
            "integer": self.integer,
            "number": self.number,
        }.get(kind)
        if handler is not None:
            return handler(schema, depth)
        if kind == "boolean":
            return True
        return None

    def one_of(self, schema: dict[str, Any], options: list[Any], depth: int) -> Any:
        """A value for the first non-null option (null once deep enough, if allowed)."""
        non_null = [o for o in options if not self.is_null(o)]
        prefer_null = depth >= MAX_DEPTH and len(non_null) < len(options)
        chosen = non_null[0] if non_null and not prefer_null else options[0]
        if prefer_null:
            return None
        rest = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}
        if isinstance(chosen, dict):
            return self.value({**rest, **chosen}, depth)
        return self.value(chosen, depth)

    @staticmethod
    def kind(schema: dict[str, Any]) -> Any:
        """The schema's type (the first non-null one), else the one its keywords imply."""
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind is None:
            if "properties" in schema or "required" in schema:
                kind = "object"
            elif "items" in schema or "prefixItems" in schema:
                kind = "array"
            else:
                kind = "string"
        return kind

    def object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        properties = schema.get("properties")
        properties = properties if isinstance(properties, dict) else {}
        required = [r for r in schema.get("required", []) if isinstance(r, str)]
        keys = list(properties) if depth < MAX_DEPTH else [k for k in properties if k in required]
        result: dict[str, Any] = {}
        for key in keys:
            result[key] = self.value(properties[key], depth + 1)
        for key in required:
            if key not in result:
                extra = schema.get("additionalProperties")
                result[key] = self.value(extra if isinstance(extra, dict) else {}, depth + 1)
        return result

    def array(self, schema: dict[str, Any], depth: int) -> list[Any]:
        prefix = schema.get("prefixItems")
        min_items = int(schema.get("minItems", 0))
        max_items = schema.get("maxItems")
        items_schema = schema.get("items", {})
        result: list[Any] = []
        if isinstance(prefix, list):
            result = [self.value(p, depth + 1) for p in prefix]
        if isinstance(items_schema, list):  # draft-04 tuple form
            result = [self.value(p, depth + 1) for p in items_schema]
            items_schema = schema.get("additionalItems", {})
        wanted = max(min_items, 0 if depth >= MAX_DEPTH else 1)
        if isinstance(max_items, int):
            wanted = min(wanted, max_items)
        while len(result) < wanted and items_schema is not False:
            result.append(self.value(items_schema, depth + 1))
        if schema.get("uniqueItems") and len(result) > 1:
            return result[:1]
        return result

    def string(self, schema: dict[str, Any], depth: int) -> str:
        fmt = schema.get("format")
        text = _FORMATS[fmt] if isinstance(fmt, str) and fmt in _FORMATS else self.next_word()
        max_length = schema.get("maxLength")
        min_length = int(schema.get("minLength", 0))
        if isinstance(max_length, int):
            text = text[:max_length]
        if len(text) < min_length:
            text = text + "x" * (min_length - len(text))
        return text

    def _bounds(self, schema: dict[str, Any], value: float, step: float) -> float:
        low, high = _number(schema.get("minimum")), _number(schema.get("maximum"))
        above, below = (
            _number(schema.get("exclusiveMinimum")),
            _number(schema.get("exclusiveMaximum")),
        )
        if schema.get("exclusiveMinimum") is True:  # draft-04: the bound itself is exclusive
            above, low = low, None
        if schema.get("exclusiveMaximum") is True:
            below, high = high, None
        if low is not None and value < low:
            value = low
        if above is not None and value <= above:
            value = above + step
        if high is not None and value > high:
            value = high
        if below is not None and value >= below:
            value = below - step
        return value

    def integer(self, schema: dict[str, Any], depth: int) -> int:
        value = int(self._bounds(schema, float(int(self.next_number(3))), 1))
        multiple = schema.get("multipleOf")
        if isinstance(multiple, int) and multiple > 0 and value % multiple:
            value += multiple - value % multiple
            high = schema.get("maximum")
            if isinstance(high, (int, float)) and value > high:
                value -= multiple
        return value

    def number(self, schema: dict[str, Any], depth: int) -> float:
        value = float(self._bounds(schema, self.next_number(3.0), 0.5))
        multiple = schema.get("multipleOf")
        if isinstance(multiple, (int, float)) and multiple > 0:
            value = round(value / multiple) * multiple
        return value


def synthesize(schema: dict[str, Any], prompt: str) -> Any:
    """Return a value valid for ``schema`` built deterministically from ``prompt``."""
    return _Synth(schema if isinstance(schema, dict) else {}, prompt).value(schema)
