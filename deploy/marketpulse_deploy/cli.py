"""What the commands share: an error they can name becomes one line on
stderr and an exit status, not a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable

from .templates import TemplateError


def guarded(prog: str, body: Callable[[], int]) -> int:
    """`body()`'s status; 2 for a bad template or NAME=value argument, 1
    for an AWS error (no region, no credentials, a refused call)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return body()
    except TemplateError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 1
