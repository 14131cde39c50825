"""Files the bot hands out, built when they are delivered from what is stored at that moment."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.i18n import Translator
from bot.plan.workbook import MEDIA_TYPE, build_workbook, plan_filename
from bot.ports import Clock, UnitOfWork


@dataclass(frozen=True)
class Attachment:
    name: str
    media_type: str
    data: bytes


class UnknownWorkshop(LookupError):
    pass


class PlanFiles:
    """The action plan of a stored workshop as an .xlsx attachment."""

    def __init__(self, units: Callable[[], UnitOfWork], clock: Clock) -> None:
        self._units = units
        self._clock = clock

    def language_of(self, workshop_id: str) -> str:
        with self._units() as uow:
            ws = uow.workshops.get(workshop_id)
        if ws is None:
            raise UnknownWorkshop(workshop_id)
        return ws.language

    def build(self, workshop_id: str) -> Attachment:
        with self._units() as uow:
            ws = uow.workshops.get(workshop_id)
        if ws is None:
            raise UnknownWorkshop(workshop_id)
        t = Translator(ws.language)
        return Attachment(plan_filename(ws, t), MEDIA_TYPE, build_workbook(ws, t, self._clock.now()))
