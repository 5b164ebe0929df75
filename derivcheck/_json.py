"""The one JSON schema every report and every ``--json`` output shares.

Every document has ``"kind"`` (``claim``, ``gradient``, ``layer``, ``jacobian``,
``model``, ``claim_file``, ``demo``), ``"schema_version"``, ``"ok"`` and, for a
single check, ``"verdict"``; absent values are ``null``.  Documents are indented
by 2.  The schema itself is ``derivcheck/schema.json`` (docs/json.md).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["SCHEMA_VERSION", "dumps"]

SCHEMA_VERSION = 1


def dumps(document: dict[str, Any], **kwargs: Any) -> str:
    """The document as JSON, indented like every other derivcheck document (keyword
    arguments go to :func:`json.dumps`)."""
    return json.dumps(document, **{"indent": 2, "ensure_ascii": False, "default": str, **kwargs})
