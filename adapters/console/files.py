"""The console's way of handing over a file: write it to disk and say where."""

from __future__ import annotations

from pathlib import Path

from bot.plan.files import PlanFiles


class PlanSaver:
    def __init__(self, files: PlanFiles, folder: Path, fixed: Path | None = None) -> None:
        self._files = files
        self._folder = folder
        self._fixed = fixed  # `demo --out FILE`: always this path

    def save(self, workshop_id: str) -> Path:
        attachment = self._files.build(workshop_id)
        path = self._fixed or self._folder / attachment.name
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part")
        partial.write_bytes(attachment.data)
        partial.replace(path)  # a reader never sees half a workbook
        return path.resolve()
