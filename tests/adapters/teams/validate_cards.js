#!/usr/bin/env node
// Validates Adaptive Cards with Microsoft's own library (npm `adaptivecards`), the way a
// client parses a card before it renders it. Used by test_card_validation.py.
//
// stdin:  a JSON array of cards (plain Adaptive Card JSON objects)
// stdout: a JSON object {"library": "<adaptivecards version>", "results": [...]}, one result
//         per card in order: {"version": "<the card's version as parsed>", "events": [...]},
//         each event {"phase": "Parse"|"Validation", "event": "<ValidationEvent name>",
//         "source": "<type of the element or action>", "message": "..."}.
// Exit status 0 whenever the results were written, whatever they say; 2 on bad input.
//
// The library is loaded from its webpack bundle, dist/adaptivecards.js, which carries
// everything it needs (its peer dependency swiper is bundled in). It runs in plain Node with
// no DOM: at load time it only reads `window` behind `typeof window === 'undefined'` guards,
// and `document` is touched by render() alone, which is never called here.

"use strict";

const fs = require("fs");
const path = require("path");

const PACKAGE = path.join(__dirname, "node_modules", "adaptivecards");
const AC = require(path.join(PACKAGE, "dist", "adaptivecards.js"));

// What Microsoft Teams renders: Adaptive Cards up to 1.5, at most six actions in a row
// (the Teams host config of Microsoft's Adaptive Cards designer: `"maxActions": 6`,
// `"supportsInteractivity": true`; the library's default host config allows five). Only the
// settings that validation reads are given; the rest only matter to rendering.
const TARGET = AC.Versions.v1_5;
const TEAMS_HOST_CONFIG = new AC.HostConfig({
    supportsInteractivity: true,
    actions: { maxActions: 6 },
});

function describe(event) {
    const source = event.source;
    let sourceType = "";
    if (source && typeof source.getJsonTypeName === "function") {
        sourceType = source.getJsonTypeName();
        const id = typeof source.id === "string" && source.id ? source.id : "";
        if (id) {
            sourceType += `#${id}`;
        }
    }
    return {
        phase: AC.ValidationPhase[event.phase],
        event: AC.ValidationEvent[event.event],
        source: sourceType,
        message: event.message,
    };
}

function validate(json) {
    // A fresh context and card for each: events and ids must not leak between cards.
    const context = new AC.SerializationContext(TARGET);
    const card = new AC.AdaptiveCard();
    card.hostConfig = TEAMS_HOST_CONFIG;
    // A card that claims a newer version than Teams renders fails validation
    // (UnsupportedCardVersion); the library's default allows the newest it knows (1.6).
    card.maxVersion = TARGET;
    const events = [];
    let phase = "Parse";
    try {
        card.parse(json, context);
        for (let i = 0; i < context.eventCount; i++) {
            events.push(describe(context.getEventAt(i)));
        }
        phase = "Validation";
        // Duplicate ids, missing card type or version, too many actions, required inputs
        // without a label or error message, and each element's own checks.
        const results = card.validateProperties();
        for (const event of results.validationEvents) {
            events.push(describe(event));
        }
    } catch (error) {
        // The library throws on some malformed input (e.g. comparing an invalid version):
        // that is a finding about this card, not a reason to give up on the others.
        events.push({ phase, event: "Exception", source: "", message: String(error) });
    }
    return { version: card.version ? card.version.toString() : null, events };
}

function main() {
    let cards;
    try {
        cards = JSON.parse(fs.readFileSync(0, "utf8"));
    } catch (error) {
        process.stderr.write(`validate_cards.js: stdin is not JSON: ${error}\n`);
        process.exit(2);
    }
    if (!Array.isArray(cards)) {
        process.stderr.write("validate_cards.js: stdin must be a JSON array of cards\n");
        process.exit(2);
    }
    const library = JSON.parse(fs.readFileSync(path.join(PACKAGE, "package.json"), "utf8")).version;
    process.stdout.write(JSON.stringify({ library, results: cards.map(validate) }) + "\n");
}

main();
