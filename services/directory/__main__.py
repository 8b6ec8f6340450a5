"""Run the directory service: `python -m services.directory`."""

from services.directory.app import DEFINITION
from shared.main import run_service

if __name__ == "__main__":
    run_service(DEFINITION)
