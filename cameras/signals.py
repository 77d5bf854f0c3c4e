"""Signals other apps listen to (they may import cameras; cameras imports none of them)."""

from django.dispatch import Signal

# Sent inside the transaction that changed a camera's status, with camera_id, status, previous,
# reason and at (the CameraEvent's values).
camera_status_changed = Signal()
