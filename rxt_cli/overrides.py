"""`--set FIELD=VALUE` options: typed config fields from the command line, for `rxt train` (model
config) and `rxt bench serve` (service config)."""

from __future__ import annotations

import json


def parse_overrides(items: list[str]) -> dict:
    """{FIELD: value} from FIELD=VALUE items. VALUE is JSON (numbers, booleans, objects) or, when
    it does not parse, a plain string, so `--set memory_write=slot` needs no quotes."""
    fields = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects FIELD=JSON, got {item!r}")
        try:
            fields[key] = json.loads(value)
        except json.JSONDecodeError:
            fields[key] = value
    return fields
