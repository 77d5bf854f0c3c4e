class CaptureError(Exception):
    """A capture that failed, with a short error class (timeout, refused, dns, http_404 ...)."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.detail = detail[:300]
