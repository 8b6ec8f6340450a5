"""Run the servicing service: `python -m services.servicing`."""

from services.servicing.app import DEFINITION
from shared.main import run_service

if __name__ == "__main__":
    run_service(DEFINITION)
