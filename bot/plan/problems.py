"""What is wrong in a file someone sent, row by row, for the catalog to put into words."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    row: int  # as the spreadsheet or CSV numbers it; 0 for the file as a whole
    key: str  # the catalog key that explains it
    params: Mapping[str, str] = field(default_factory=dict)
