"""The `${NAME}` placeholders of the JSON definitions under deploy/ (task,
job, cluster and step definitions), filled in from `--set NAME=value`.
Terraform reads the same files with `templatefile`, which uses the same
syntax."""

from __future__ import annotations

import json
import re

PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


class TemplateError(ValueError):
    """A placeholder without a value, or an argument that is not NAME=value."""


def render(text: str, values: dict[str, str]) -> dict:
    """The definition with its ${NAME} placeholders filled in."""
    missing = sorted(set(PLACEHOLDER.findall(text)) - set(values))
    if missing:
        raise TemplateError(f"no value for {', '.join(missing)} (pass --set NAME=value)")
    try:
        return json.loads(PLACEHOLDER.sub(lambda m: values[m.group(1)], text))
    except ValueError as e:
        raise TemplateError(f"the definition is not JSON once filled in: {e}") from None


def parse_pairs(pairs: list[str], what: str) -> dict[str, str]:
    """`NAME=value` arguments as a dict."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise TemplateError(f"{what} '{pair}' is not NAME=value")
        out[key] = value
    return out
