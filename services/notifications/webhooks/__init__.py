"""Webhooks for partner banks: subscriptions, minimal signed deliveries of their own files' events, the HTTP worker."""
