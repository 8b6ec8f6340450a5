"""Run the notifications service: `python -m services.notifications`."""

from services.notifications.app import DEFINITION
from shared.main import run_service

if __name__ == "__main__":
    run_service(DEFINITION)
