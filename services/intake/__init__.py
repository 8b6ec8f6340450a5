"""Intake: the file a counsellor builds, its checklist, submission and withdrawal, and the funnel."""
