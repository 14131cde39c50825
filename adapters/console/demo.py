"""`ambition-bot demo`: a whole ambitionsworkshop, scripted, through the console adapter.

Time is compressed: the clock is moved on instead of waited for. Along the way the demo
tries each kind of bad input once, so the clear answer it gets can be seen.
"""

from __future__ import annotations

from rich.console import Console
from rich.rule import Rule

from adapters.console.chat import ConsoleChat
from adapters.console.demo_content import (CURRENT, DOTS, FACILITATOR, MEASURES, PEOPLE, TOO_MANY,
                                           Content, as_values, content)
from bot.i18n import Translator

PLENUM = "plenum"
F = FACILITATOR


class Demo:
    def __init__(self, chat: ConsoleChat, out: Console, language: str) -> None:
        self.chat = chat
        self.out = out
        self.t = Translator(language)
        self.c: Content = content(language)
        self.word = lambda name: self.t(f"command.{name}")
        self.workshop = ""
        self.year = chat.clock.now().year

    def narrate(self, key: str, **params: object) -> None:
        self.out.print(Rule(self.t(f"demo.{key}", **params), style="green"))

    def bad(self, kind: str) -> None:
        self.out.print(f"[bold red]⚠ {self.t('demo.bad_input')}[/] {self.t(f'demo.bad.{kind}')}",
                       highlight=False)

    async def run(self) -> str:
        self.narrate("title", title=self.c.title)
        self.out.print(self.t("demo.explain"), highlight=False)
        await self.setup()
        await self.introduction()
        await self.ambitions()
        await self.agree()
        await self.smart_goals()
        await self.present()
        await self.wrap_up()
        return self.workshop

    async def setup(self) -> None:
        chat, c = self.chat, self.c
        self.narrate("step.setup")
        result = await chat.say(F, PLENUM, f"{self.word('new')} {c.title}")
        self.workshop = result.workshop_id
        await chat.press(F, PLENUM, "setup_details")
        await chat.fill(F, {"mandate": c.mandate})
        await chat.press(F, PLENUM, "setup_measures")
        self.bad("too_many_measures")
        await chat.fill(F, {"measures": ",".join(TOO_MANY)})
        await chat.fill(F, {"measures": ",".join(MEASURES)})
        await chat.press(F, PLENUM, "setup_why")
        await chat.fill(F, {**{f"why_{m}": c.why[m] for m in MEASURES},
                            **{f"value_{m}": CURRENT[m] for m in MEASURES}})
        for group in ("E", "S", "G"):
            await chat.say(F, group, f"{self.word('group')} {group}")
        self.bad("non_facilitator")
        await chat.say("Jonas", PLENUM, self.word("start"))

    async def introduction(self) -> None:
        chat = self.chat
        self.narrate("step.start")
        await chat.press(F, PLENUM, "start")
        self.bad("unknown_command")
        await chat.say("Ib", PLENUM, "hej")
        for name, area in PEOPLE.items():
            await chat.press(name, PLENUM, "interest", area=area or "none")
        self.narrate("step.split")
        await chat.press(F, PLENUM, "propose_split")
        await chat.say(F, PLENUM, f"{self.word('split')} E")
        await chat.say(F, "E2", f"{self.word('group')} E2")
        await chat.press(F, PLENUM, "approve_split")
        await chat.wait(30)
        await chat.press(F, PLENUM, "next")

    async def _dots(self, conversation: str, measure: str, members: list[str]) -> None:
        for name, level in zip(members, DOTS[measure], strict=True):
            await self.chat.press(name, conversation, "vote", m=measure, level=level)

    async def ambitions(self) -> None:
        chat, c = self.chat, self.c
        self.narrate("step.ambitions")
        await self._dots("E", "E-energi", ["Anders", "Carsten", "Erik", "Gustav"])
        self.bad("retry")
        await chat.replay()
        await chat.press("Erik", "E", "vote", m="E-energi", level="ambitious")  # moves his dot
        await self._dots("E2", "E-co2", ["Birgitte", "Dorthe", "Frida"])
        s_group = ["Hanne", "Ib", "Jonas", "Karen", "Lars", "Sofie"]
        g_group = ["Maja", "Niels", "Ole", "Pia", "Rasmus", "Thomas"]
        for measure in ("S-tilfredshed", "S-udsaettelser"):
            await self._dots("S", measure, s_group)
        for measure in ("G-kompetencer", "G-indkoeb"):
            await self._dots("G", measure, g_group)
        self.bad("other_group")
        await chat.press("Hanne", "G", "vote", m="G-indkoeb", level="ambitious")

        await chat.press("Anders", "E", "edit_ambition", m="E-energi")
        self.bad("empty")
        await chat.fill("Anders", {"sentence": "   "})
        self.bad("too_long")
        await chat.fill("Anders", {"sentence": "x" * 10_000})
        await chat.fill("Anders", {"sentence": c.sentences["E-energi"]})
        await self._sentence("Birgitte", "E2", "E-co2")

        self.bad("conflict")
        await chat.press("Hanne", "S", "edit_ambition", m="S-tilfredshed")
        await chat.press("Ib", "S", "edit_ambition", m="S-tilfredshed")
        await chat.fill("Hanne", {"sentence": c.sentences["S-tilfredshed"]})
        await chat.fill("Ib", {"sentence": c.sentence_b})
        await self._sentence("Karen", "S", "S-udsaettelser")
        await self._sentence("Maja", "G", "G-kompetencer")
        await self._sentence("Niels", "G", "G-indkoeb", level="minimum")
        await chat.say(F, PLENUM, self.word("status"))
        self.bad("non_facilitator_next")
        await chat.say("Karen", "S", self.word("next"))
        await chat.wait(25)
        await chat.press(F, PLENUM, "extend", minutes="5")
        await chat.wait(5)
        await chat.say(F, PLENUM, self.word("next"))

    async def _sentence(self, name: str, conversation: str, measure: str, level: str = "") -> None:
        await self.chat.press(name, conversation, "edit_ambition", m=measure)
        values = {"sentence": self.c.sentences[measure]}
        await self.chat.fill(name, {**values, **({"level": level} if level else {})})

    async def agree(self) -> None:
        chat, c = self.chat, self.c
        self.narrate("step.plenum")
        self.bad("stale")
        await chat.press("Anders", "E", "vote", m="E-energi", level="medium")
        await chat.press("Pia", PLENUM, "comment", m="S-udsaettelser")
        self.bad("injection")
        await chat.fill("Pia", {"text": c.comment})
        for measure in MEASURES:
            if measure != "G-indkoeb":
                await chat.press(F, PLENUM, "agree", m=measure)
        await chat.press(F, PLENUM, "send_back", m="G-indkoeb")
        await chat.fill(F, {"reason": c.send_back})
        await chat.press("Niels", "G", "edit_ambition", m="G-indkoeb")
        await chat.fill("Niels", {"level": "medium", "sentence": c.revised})
        await chat.press(F, PLENUM, "agree", m="G-indkoeb")
        await chat.say(F, PLENUM, self.word("next"))
        self.narrate("step.break")
        await chat.wait(10)
        await chat.say(F, PLENUM, self.word("next"))

    async def _goal(self, name: str, conversation: str, measure: str, goal: dict[str, str]) -> None:
        await self.chat.press(name, conversation, "add_goal", m=measure)
        await self.chat.fill(name, as_values(goal, self.year))

    async def smart_goals(self) -> None:
        chat, c = self.chat, self.c
        self.narrate("step.goals")
        await self._goal("Anders", "E", "E-energi", c.goals["E-energi"][0])
        await chat.press("Gustav", "E", "support_goal")

        self.bad("vague_goal")
        await self._goal("Dorthe", "E2", "E-co2", c.vague_goal)
        await chat.press("Dorthe", "E2", "edit_goal")
        await chat.fill("Dorthe", as_values(c.fixed_goal, self.year))
        await chat.press("Frida", "E2", "support_goal")

        self.bad("invalid_date")
        await self._goal("Hanne", "S", "S-tilfredshed", c.goals["S-tilfredshed"][0])
        self.bad("past_date")
        await chat.fill("Hanne", {"deadline": "01-01-2020"})
        await chat.fill("Hanne", {"deadline": f"30-06-{self.year + 1}"})
        await chat.press("Sofie", "S", "support_goal")
        for goal in c.goals["S-udsaettelser"]:
            await self._goal("Karen", "S", "S-udsaettelser", goal)
            await chat.press("Lars", "S", "support_goal")
        self.bad("fourth_goal")
        await chat.press("Jonas", "S", "add_goal", m="S-udsaettelser")

        await chat.say(F, PLENUM, self.word("pause"))
        await chat.say(F, PLENUM, self.word("resume"))
        self.narrate("step.reminder")
        await chat.wait(40)  # five minutes left: group G hears what it still lacks
        for name, measure in (("Maja", "G-kompetencer"), ("Ole", "G-indkoeb")):
            await self._goal(name, "G", measure, c.goals[measure][0])
            await chat.press("Thomas", "G", "support_goal")
        await chat.wait(5)
        await chat.press(F, PLENUM, "next")

    async def present(self) -> None:
        chat = self.chat
        self.narrate("step.present")
        await chat.press(F, PLENUM, "edit_goal")  # the newest card: G-indkoeb, goal 1
        await chat.fill(F, {"target": self.c.adjusted_target})
        await chat.wait(30)
        await chat.say(F, PLENUM, self.word("next"))

    async def wrap_up(self) -> None:
        chat, c = self.chat, self.c
        self.narrate("step.wrapup")
        cards = sorted(p.number for p in chat.deliverer.buttons.values()
                       if p.button.action == "set_owner")
        for number, (owner, step) in zip(cards, c.owners, strict=True):
            if number == cards[-1]:
                self.bad("missing_owner")
                await chat.say(F, PLENUM, self.word("next"))
            if step == c.injected_step:
                self.bad("formula")
            await chat.press_number(F, number)
            await chat.fill(F, {"owner": owner, "next_step": step})
        await chat.say(F, PLENUM, self.word("next"))
