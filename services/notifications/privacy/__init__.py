"""The right of access to what notifications holds about one file: its alerts, the e-mails and webhooks sent about it."""
