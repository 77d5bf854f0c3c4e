"""Which channels the notify process runs: each module registers itself when configured."""

from notify.channels import Channel


def channels() -> list[Channel]:
    found: list[Channel] = []
    # Each channel module exposes ``channel() -> Channel | None`` (None: not configured here).
    for module in _modules():
        made = module.channel()
        if made is not None:
            found.append(made)
    return found


def _modules() -> list:
    import importlib

    out = []
    for name in ("notify.mqtt", "notify.webhooks", "notify.alerts"):
        try:
            out.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    return out
