"""Contracts and plumbing shared by the microcredit services: no business rules live here."""
