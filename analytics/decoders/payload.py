def split_payload(text: str, data: bytes) -> tuple[str, bytes | None]:
    """Keep raw bytes only when the decoder could not turn the payload into text."""
    if text or not data:
        return text, None
    return data.decode("latin-1"), data
