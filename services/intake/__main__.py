"""Run the intake service: `python -m services.intake`."""

from services.intake.app import DEFINITION
from shared.main import run_service

if __name__ == "__main__":
    run_service(DEFINITION)
