"""Assessment: the budget diagnostic, the counsellor's outcome and the partner bank's decision."""
