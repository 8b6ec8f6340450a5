"""E-mail: the alerts' e-mails written in their transaction, the counsellors' preferences and digests, the SMTP worker."""
