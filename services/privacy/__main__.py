"""Run the privacy service: `python -m services.privacy`."""

from services.privacy.app import DEFINITION
from shared.main import run_service

if __name__ == "__main__":
    run_service(DEFINITION)
