"""Microsoft Teams: botbuilder CloudAdapter at POST /api/messages, Adaptive Cards, proactive delivery."""
