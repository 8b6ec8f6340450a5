"""Notifications: alerts for counsellors and supervisors, e-mails that reach them, webhooks for partner banks."""
