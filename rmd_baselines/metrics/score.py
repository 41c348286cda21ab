"""`Score`: one metric value together with the signature saying exactly how it was computed.

"BLEU-4" alone is not a definition (the two families in use differ by up to 0.4 BLEU on the same input), so every
value this package hands out can carry a signature in the style of sacreBLEU, e.g.
``BLEU-4|family:dstc7|tok:char|norm:mteval-v14c|smooth:mteval|nrefs:1|version:0.1.0``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .. import __version__


def make_signature(name: str, **parts: object) -> str:
    """``NAME|key:value|...|version:X`` with the parts in the order given (None values are left out)."""
    fields = [name] + [f"{key}:{value}" for key, value in parts.items() if value is not None]
    fields.append(f"version:{__version__}")
    return "|".join(fields)


@dataclass(frozen=True)
class Score:
    """A raw metric value (never scaled ×100), its family, its signature and optionally a 95 % interval."""

    name: str
    value: float
    family: str
    signature: str
    ci: tuple[float, float] | None = None

    def __str__(self) -> str:
        text = f"{self.name} = {_format(self.value)}"
        if self.ci is not None:
            text += f" (95% CI [{_format(self.ci[0])}, {_format(self.ci[1])}])"
        return f"{text}  [{self.signature}]"

    def to_json(self) -> dict:
        """A JSON-ready dict; dump it with ``ensure_ascii=False``."""
        return {
            "name": self.name,
            "value": self.value,
            "family": self.family,
            "signature": self.signature,
            "ci": list(self.ci) if self.ci is not None else None,
        }


def _format(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        return str(value)
    return f"{value:.4f}"
