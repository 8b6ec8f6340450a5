"""Run the assessment service: `python -m services.assessment`."""

from services.assessment.app import DEFINITION
from shared.main import run_service

if __name__ == "__main__":
    run_service(DEFINITION)
