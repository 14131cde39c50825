"""`ambition-bot demo --measures FILE`: the whole workshop on the organisation's own målepunkter.

The scripted demo knows its six målepunkter by heart; this one finds the imported ones in the
chat, as a participant would, and has every group give each of them dots, a sentence and a goal.
"""

from __future__ import annotations

from itertools import cycle

from adapters.console.demo import PLENUM, Demo, F
from adapters.console.demo_content import OWN, PEOPLE, as_values
from bot.events import SharedFile
from bot.flow.imported import to_measures
from bot.plan.measures_file import read_measures

# who works where once the bot has divided the demo's people by their wishes (no subgroups)
GROUPS = {
    "E": ("Anders", "Birgitte", "Carsten", "Dorthe", "Erik", "Frida", "Gustav"),
    "S": ("Hanne", "Ib", "Jonas", "Karen", "Lars", "Sofie"),
    "G": ("Maja", "Niels", "Ole", "Pia", "Rasmus", "Thomas"),
}
DOTS = ("medium", "ambitious", "medium", "minimum", "ambitious", "medium", "ambitious")


class OwnMeasuresDemo(Demo):
    def __init__(self, *args: object, measures: SharedFile) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.file = measures
        self.own = OWN[self.t.language]
        rows = read_measures(measures.name, measures.data).measures
        self.measures = {m.id: m for m in to_measures(rows)}  # with the ids the bot gives them

    async def run(self) -> str:
        self.narrate("title", title=self.c.title)
        self.out.print(self.t("demo.explain_own"), highlight=False)
        await self.own_setup()
        await self.own_groups()
        await self.own_ambitions()
        await self.own_goals()
        await self.own_wrap_up()
        return self.workshop

    async def own_setup(self) -> None:
        chat = self.chat
        self.narrate("step.setup")
        self.workshop = (await chat.say(F, PLENUM, f"{self.word('new')} {self.c.title}")).workshop_id
        await chat.say(F, PLENUM, self.word("measures"), (self.file,))
        for group in GROUPS:
            await chat.say(F, group, f"{self.word('group')} {group}")

    async def own_groups(self) -> None:
        chat = self.chat
        self.narrate("step.start")
        await chat.press(F, PLENUM, "start")
        for name, area in PEOPLE.items():
            await chat.press(name, PLENUM, "interest", area=area or "none")
        await chat.press(F, PLENUM, "propose_split")
        await chat.press(F, PLENUM, "approve_split")
        await chat.wait(30)
        await chat.press(F, PLENUM, "next")

    def measures_in(self, group: str, action: str) -> list[str]:
        """The målepunkter a group's channel shows buttons for, in the order shown."""
        found = (p.button.args.get("m", "") for p in sorted(self.chat.deliverer.buttons.values(),
                                                             key=lambda p: p.number)
                 if p.conversation == group and p.button.action == action)
        return list(dict.fromkeys(m for m in found if m))

    async def own_ambitions(self) -> None:
        chat = self.chat
        self.narrate("step.ambitions")
        for group, people in GROUPS.items():
            for measure in self.measures_in(group, "vote"):
                for name, level in zip(people, cycle(DOTS)):
                    await chat.press(name, group, "vote", m=measure, level=level)
                await chat.press(people[0], group, "edit_ambition", m=measure)
                await chat.fill(people[0], {"sentence": self.own.sentence.format(name=self.label(measure))})
        await chat.wait(25)
        await chat.say(F, PLENUM, self.word("next"))
        self.narrate("step.plenum")
        for measure in self.measures_in(PLENUM, "agree"):
            await chat.press(F, PLENUM, "agree", m=measure)
        await chat.say(F, PLENUM, self.word("next"))
        await chat.wait(10)
        await chat.say(F, PLENUM, self.word("next"))

    def label(self, measure: str) -> str:
        return self.measures[measure].name.lower()

    def current(self, measure: str) -> str:
        found = self.measures[measure]
        return f"{found.current_value} {found.unit}".strip() or "–"

    async def own_goals(self) -> None:
        chat = self.chat
        self.narrate("step.goals")
        for group, people in GROUPS.items():
            for measure in self.measures_in(group, "add_goal"):
                goal = {k: v.format(name=self.label(measure), current=self.current(measure), y2="{y2}")
                        for k, v in self.own.goal.items()}
                await chat.press(people[1], group, "add_goal", m=measure)
                await chat.fill(people[1], as_values(goal, self.year))
        await chat.wait(45)
        await chat.press(F, PLENUM, "next")
        self.narrate("step.present")
        await chat.wait(30)
        await chat.say(F, PLENUM, self.word("next"))

    async def own_wrap_up(self) -> None:
        chat = self.chat
        self.narrate("step.wrapup")
        cards = sorted(p.number for p in chat.deliverer.buttons.values() if p.button.action == "set_owner")
        owners = cycle(name for people in GROUPS.values() for name in people[2:4])
        for number in cards:
            await chat.press_number(F, number)
            await chat.fill(F, {"owner": next(owners), "next_step": self.own.next_step})
        await chat.say(F, PLENUM, self.word("next"))
