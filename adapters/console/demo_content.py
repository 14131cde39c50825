"""What the demo's people type, in each language. (The bot's own words are in the catalogs.)"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FACILITATOR = "Mette"
# name -> the group they would like (None: no preference); 19 people, so E gets seven
PEOPLE: dict[str, str | None] = {
    "Anders": "E", "Birgitte": "E", "Carsten": "E", "Dorthe": "E", "Erik": "E", "Frida": "E",
    "Gustav": "E", "Hanne": "S", "Ib": "S", "Jonas": "S", "Karen": "S", "Lars": "S",
    "Maja": "G", "Niels": "G", "Ole": "G", "Pia": "G", "Rasmus": None, "Sofie": None, "Thomas": None,
}
MEASURES = ("E-energi", "E-co2", "S-tilfredshed", "S-udsaettelser", "G-kompetencer", "G-indkoeb")
TOO_MANY = ("E-energi", "E-co2", "E-vand", "E-affald", "S-tilfredshed", "S-udsaettelser",
            "S-beboerdemokrati", "S-tryghed", "G-kompetencer", "G-indkoeb")
CURRENT = {"E-energi": "142", "E-co2": "9,8", "S-tilfredshed": "71", "S-udsaettelser": "4,1",
           "G-kompetencer": "20", "G-indkoeb": "15"}
# how each group's members place their dots: measure -> levels in member order
DOTS = {
    "E-energi": ("ambitious", "ambitious", "medium", "ambitious"),
    "E-co2": ("medium", "ambitious", "medium"),
    "S-tilfredshed": ("medium", "medium", "ambitious", "medium", "minimum", "medium"),
    "S-udsaettelser": ("ambitious", "ambitious", "medium", "ambitious", "ambitious", "medium"),
    "G-kompetencer": ("medium", "medium", "medium", "ambitious", "medium", "minimum"),
    "G-indkoeb": ("minimum", "medium", "minimum", "minimum", "medium", "minimum"),
}


@dataclass(frozen=True)
class Content:
    title: str
    mandate: str
    why: dict[str, str]
    sentences: dict[str, str]
    sentence_b: str  # a second, competing sentence for the same målepunkt
    revised: str  # the sentence the plenum sent back, rewritten
    send_back: str
    comment: str
    goals: dict[str, list[dict[str, str]]]
    vague_goal: dict[str, str]
    fixed_goal: dict[str, str]
    fourth_goal: dict[str, str]
    adjusted_target: str
    owners: list[tuple[str, str]]
    injected_step: str


DA = Content(
    title="Boligselskabet Fjordly",
    mandate="Organisationsbestyrelsen beslutter ambitionsniveauet i dag. Administrationen og "
            "fagpersonerne udfolder målene i en handlingsplan, som bestyrelsen godkender i marts.",
    why={
        "E-energi": "Energiforbruget i de ældste afdelinger ligger 20 % over sektoren.",
        "E-co2": "Kommunens klimaplan kræver lavere CO2-udledning fra opvarmning.",
        "S-tilfredshed": "Beboerundersøgelsen viste faldende tilfredshed i to afdelinger.",
        "S-udsaettelser": "Antallet af udsættelser steg sidste år.",
        "G-kompetencer": "Bestyrelsen har bedt om mere viden om ESG.",
        "G-indkoeb": "Vi stiller i dag næsten ingen ESG-krav til leverandører.",
    },
    sentences={
        "E-energi": "Vi vil være blandt de bedste i sektoren til at spare på energien.",
        "E-co2": "Vi halverer CO2-udledningen fra varme og el, i takt med at vi renoverer.",
        "S-tilfredshed": "Beboerne skal trives og føle sig hørt i alle afdelinger.",
        "S-udsaettelser": "Ingen beboer skal sættes ud, fordi vi opdagede problemerne for sent.",
        "G-kompetencer": "Bestyrelsen skal kende ESG godt nok til at træffe gode beslutninger.",
        "G-indkoeb": "Vi stiller de krav til leverandører, som loven kræver.",
    },
    sentence_b="Alle beboere skal være tilfredse – også i de nye afdelinger.",
    revised="Vi stiller klare ESG-krav i alle større udbud og følger op på dem.",
    send_back="Plenum synes, minimum er for lidt: prøv med mellem og klare krav i udbud.",
    comment="Godt mål! <!channel> husk at de nye afdelinger også skal med.",
    goals={
        "E-energi": [dict(text="Energirenovere 120 boliger i afdeling Fjordparken, så forbruget falder",
                          indicator="Energiforbrug i kWh/m²", baseline="142 kWh/m²",
                          target="110 kWh/m²", deadline="31-12-{y2}")],
        "S-tilfredshed": [
            dict(text="Holde et dialogmøde i hver afdeling og følge op på beboernes ønsker",
                 indicator="Andel tilfredse beboere i beboerundersøgelsen", baseline="71 %",
                 target="80 %", deadline="31/02/{y1}"),
        ],
        "S-udsaettelser": [
            dict(text="Kontakte alle beboere med to måneders restance inden for 14 dage",
                 indicator="Andel kontaktet inden 14 dage", baseline="40 %", target="95 %",
                 deadline="30-06-{y1}"),
            dict(text="Tilbyde gratis økonomisk rådgivning til beboere i alle afdelinger",
                 indicator="Antal rådgivningsforløb pr. år", baseline="12", target="60",
                 deadline="31-12-{y1}"),
            dict(text="Halvere antallet af udsættelser pr. 1.000 lejemål i hele boligselskabet",
                 indicator="Udsættelser pr. 1.000 lejemål", baseline="4,1", target="2",
                 deadline="31-12-{y3}"),
        ],
        "G-kompetencer": [dict(text="Alle bestyrelsesmedlemmer gennemfører et ESG-kursus på to dage",
                               indicator="Andel af bestyrelsen med ESG-kursus", baseline="20 %",
                               target="100 %", deadline="30-09-{y1}")],
        "G-indkoeb": [dict(text="Stille ESG-krav i alle udbud over 500.000 kr. fra næste regnskabsår",
                           indicator="Andel udbud med ESG-krav", baseline="15 %", target="100 %",
                           deadline="01-04-{y2}")],
    },
    vague_goal=dict(text="Mindre CO2", indicator="", baseline="", target="", deadline=""),
    fixed_goal=dict(text="Udskifte de sidste 14 gasfyr med fjernvarme eller varmepumper i Søparken",
                    indicator="CO2-udledning i kg CO2e/m²", baseline="9,8 kg CO2e/m²",
                    target="6 kg CO2e/m²", deadline="31-12-{y3}"),
    fourth_goal=dict(text="Lave en app til betaling af husleje"),
    adjusted_target="85 %",
    owners=[("Carsten", "Bestil energimærker for Fjordparken i januar"),
            ("Erik", "Indhent tilbud på varmepumper"),
            ("Hanne", "Planlæg de første tre dialogmøder"),
            ("Jonas", "=HYPERLINK(\"http://example.com\",\"Klik her\")"),
            ("Karen", "Aftal rådgivning med den lokale gældsrådgivning"),
            ("Lars", "Lav en oversigt over udsættelser de sidste tre år"),
            ("Maja", "Find et ESG-kursus til bestyrelsen"),
            ("Niels", "Gennemgå de næste fem udbud")],
    injected_step="=HYPERLINK(\"http://example.com\",\"Klik her\")",
)

EN = Content(
    title="Fjordly Housing",
    mandate="The board decides the ambition level today. The administration and the specialists "
            "develop the goals into an action plan that the board approves in March.",
    why={
        "E-energi": "Energy use in the oldest estates is 20% above the sector.",
        "E-co2": "The municipality's climate plan requires lower CO2 emissions from heating.",
        "S-tilfredshed": "The resident survey showed falling satisfaction in two estates.",
        "S-udsaettelser": "Evictions rose last year.",
        "G-kompetencer": "The board has asked for more knowledge of ESG.",
        "G-indkoeb": "Today we set almost no ESG requirements for suppliers.",
    },
    sentences={
        "E-energi": "We will be among the best in the sector at saving energy.",
        "E-co2": "We halve CO2 emissions from heating and electricity as we renovate.",
        "S-tilfredshed": "Residents should thrive and feel heard in every estate.",
        "S-udsaettelser": "No resident is evicted because we noticed the problems too late.",
        "G-kompetencer": "The board knows ESG well enough to make good decisions.",
        "G-indkoeb": "We set the requirements for suppliers that the law demands.",
    },
    sentence_b="All residents should be satisfied – in the new estates too.",
    revised="We set clear ESG requirements in every larger tender and follow them up.",
    send_back="The plenary finds minimum too little: try medium with clear tender requirements.",
    comment="Good goal! <!channel> remember the new estates too.",
    goals={
        "E-energi": [dict(text="Energy-renovate 120 homes in the Fjordparken estate so consumption falls",
                          indicator="Energy use in kWh/m²", baseline="142 kWh/m²",
                          target="110 kWh/m²", deadline="31-12-{y2}")],
        "S-tilfredshed": [
            dict(text="Hold a dialogue meeting in every estate and follow up on residents' wishes",
                 indicator="Share of satisfied residents in the survey", baseline="71%",
                 target="80%", deadline="31/02/{y1}"),
        ],
        "S-udsaettelser": [
            dict(text="Contact every resident two months in arrears within 14 days",
                 indicator="Share contacted within 14 days", baseline="40%", target="95%",
                 deadline="30-06-{y1}"),
            dict(text="Offer free financial counselling to residents in every estate",
                 indicator="Counselling cases per year", baseline="12", target="60",
                 deadline="31-12-{y1}"),
            dict(text="Halve the number of evictions per 1,000 tenancies across the whole organisation",
                 indicator="Evictions per 1,000 tenancies", baseline="4.1", target="2",
                 deadline="31-12-{y3}"),
        ],
        "G-kompetencer": [dict(text="Every board member completes a two-day ESG course",
                               indicator="Share of the board with an ESG course", baseline="20%",
                               target="100%", deadline="30-09-{y1}")],
        "G-indkoeb": [dict(text="Set ESG requirements in all tenders above DKK 500,000 from next financial year",
                           indicator="Share of tenders with ESG requirements", baseline="15%",
                           target="100%", deadline="01-04-{y2}")],
    },
    vague_goal=dict(text="Less CO2", indicator="", baseline="", target="", deadline=""),
    fixed_goal=dict(text="Replace the last 14 gas boilers with district heating or heat pumps in Søparken",
                    indicator="CO2 emissions in kg CO2e/m²", baseline="9.8 kg CO2e/m²",
                    target="6 kg CO2e/m²", deadline="31-12-{y3}"),
    fourth_goal=dict(text="Build an app for paying rent"),
    adjusted_target="85%",
    owners=[("Carsten", "Order energy labels for Fjordparken in January"),
            ("Erik", "Get quotes for heat pumps"),
            ("Hanne", "Plan the first three dialogue meetings"),
            ("Jonas", "=HYPERLINK(\"http://example.com\",\"Click here\")"),
            ("Karen", "Agree counselling with the local debt advice service"),
            ("Lars", "List the evictions of the last three years"),
            ("Maja", "Find an ESG course for the board"),
            ("Niels", "Review the next five tenders")],
    injected_step="=HYPERLINK(\"http://example.com\",\"Click here\")",
)


def content(language: str) -> Content:
    return EN if language == "en" else DA


def as_values(data: dict[str, Any], this_year: int) -> dict[str, str]:
    """Form values, with deadlines counted from this year so the demo never runs out of future."""
    years = {f"y{n}": this_year + n for n in (1, 2, 3)}
    return {k: str(v).format(**years) if k == "deadline" else str(v) for k, v in data.items()}


@dataclass(frozen=True)
class OwnContent:
    """What the demo's people write about målepunkter the demo does not know in advance."""

    sentence: str
    goal: dict[str, str]
    next_step: str


OWN = {
    "da": OwnContent(
        sentence="Vi vil være blandt de bedste i sektoren på {name}.",
        goal=dict(text="Forbedre {name} mærkbart i alle afdelinger, målt hvert år",
                  indicator="{name}", baseline="{current}", target="Bedre end sektorens gennemsnit",
                  deadline="31-12-{y2}"),
        next_step="Saml de nyeste tal og præsentér dem på næste bestyrelsesmøde"),
    "en": OwnContent(
        sentence="We want to be among the best in the sector on {name}.",
        goal=dict(text="Improve {name} noticeably in every estate, measured every year",
                  indicator="{name}", baseline="{current}", target="Better than the sector average",
                  deadline="31-12-{y2}"),
        next_step="Gather the latest figures and present them at the next board meeting"),
}
