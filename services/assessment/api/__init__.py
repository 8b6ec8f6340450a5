"""Assessment HTTP API: the counsellors' review, the partner banks' files and decisions.

Every route needs a bearer token. A file another association (or, for a bank, not routed to it) owns
answers 404, exactly like an unknown one.
"""

from fastapi import APIRouter

from services.assessment.api import assessments, bank_files, privacy

router = APIRouter()
router.include_router(assessments.router)
router.include_router(bank_files.router)
router.include_router(privacy.router)
