"""Assessment's domain (pure, no I/O): the assessment and its changes, the budget diagnostic, the checks,
the file's review, the counsellor's outcome, the bank's decision, and who sees which file."""
