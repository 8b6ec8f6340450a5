"""Alerts: the rules that raise them from other services' facts, the inbox, escalations, reminders and incomplete files."""
