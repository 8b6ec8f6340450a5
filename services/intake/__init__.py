"""Intake: the application file a counsellor builds and submits."""
