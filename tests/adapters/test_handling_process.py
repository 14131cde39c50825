"""serve's handling process (adapters/handling_process.py): each request gets its own event's
result back, whatever order they are handled in, and none waits for ever on a process that
died. serve itself runs it in the crash soak (tests/soak/test_crash.py)."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time

import pytest

from adapters.dispatch_process import can_fork
from adapters.handling_process import HandlingLost, HandlingProcess
from adapters.intake import Handle
from bot.events import Actor, FormSubmitted
from bot.service import Result

pytestmark = pytest.mark.skipif(not can_fork(), reason="needs os.fork; where it is missing, serve handles events on its own threads and has no handling process")


def _submission(number: int, text: str = "") -> FormSubmitted:
    return FormSubmitted(event_id=f"form-{number}", org="T1", conversation="C1",
                         actor=Actor("slack:U1", "Mette"), form="goal",
                         values={"goal": text or f"Mål nummer {number}"})


def _checking_forms() -> tuple[Handle, object]:
    """In the child: each form is answered, in its own time, with an error naming what was
    typed; a goal saying "hang" is never answered."""
    async def handle(event: object) -> Result:
        assert isinstance(event, FormSubmitted)
        if event.values["goal"] == "hang":
            await asyncio.Event().wait()
        await asyncio.sleep(random.uniform(0, 0.05))
        return Result(workshop_id="ws-1", form_errors={"goal": f"Ikke SMART: {event.values['goal']}"})

    return handle, lambda: None


async def _started() -> HandlingProcess:
    """Forked from a thread without an event loop, as serve forks it before it starts one: the
    child's asyncio.run would otherwise find this test's loop running."""
    return await asyncio.to_thread(HandlingProcess.start, _checking_forms)


async def test_each_submission_gets_its_own_answer_back() -> None:
    handling = await _started()
    try:
        texts = {n: f"Mål {n}: æøå \u2028 \"citat\" \t tab" for n in range(60)}
        results = await asyncio.gather(*(handling.handle(_submission(n, text)) for n, text in texts.items()))
        assert [r.form_errors["goal"] for r in results] == [f"Ikke SMART: {t}" for t in texts.values()]
        assert {r.workshop_id for r in results} == {"ws-1"}
    finally:
        await handling.stop()


async def test_a_request_waiting_on_a_process_that_died_fails_instead_of_hanging() -> None:
    """So the platform is answered with an error and sends it again (to the next server),
    instead of waiting for an answer that will not come."""
    handling = await _started()
    try:
        await handling.handle(_submission(1))  # it runs
        waiting = asyncio.create_task(handling.handle(_submission(2, "hang")))
        await asyncio.sleep(0.2)
        assert handling._process.pid is not None
        os.kill(handling._process.pid, signal.SIGKILL)
        started = time.monotonic()
        with pytest.raises(HandlingLost):
            await asyncio.wait_for(waiting, 10)
        with pytest.raises(HandlingLost):
            await handling.handle(_submission(3))
        assert time.monotonic() - started < 10
    finally:
        await handling.stop()
