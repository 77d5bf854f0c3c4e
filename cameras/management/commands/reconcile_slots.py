from django.core.management.base import BaseCommand

from cameras.latest import frame_store
from cameras.ledger import OPEN_KEY, slots_reconcile


class Command(BaseCommand):
    help = (
        "Record the claimed slots past their deadline without an outcome as failed lost "
        "(every dispatch round does this too; run it when beat is stopped)."
    )

    def handle(self, *args, **opts) -> None:
        lost = slots_reconcile()
        still_open = frame_store().zcard(OPEN_KEY)
        self.stdout.write(f"recorded {lost} lost slots; {still_open} claimed slots still open")
