"""Servicing: loans, schedules, disbursements, payments and missed payments."""
