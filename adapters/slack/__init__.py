"""Slack: Block Kit rendering of the neutral messages and forms."""
