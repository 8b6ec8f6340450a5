"""The web workspace: French pages for counsellors, supervisors, bank officers, ops and admins.

It owns no business data. It signs people in with the identity provider (authorisation code + PKCE),
keeps a server-side session, and calls the services' HTTP APIs with the person's own access token, so
every rule of who sees what stays where it is enforced.
"""
