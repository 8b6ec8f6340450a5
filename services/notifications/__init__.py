"""Notifications: alerts for counsellors, raised from what happens to their files and loans."""
