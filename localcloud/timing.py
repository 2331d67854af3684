"""How fast the local cloud's clocks run against AWS's: ``LOCALCLOUD_TIME_SCALE`` (default 0.02).

A duration AWS takes (a health check interval, a grace period) takes ``seconds * scale`` here, so
a run keeps AWS's order of events in a fraction of its time. 1 runs at AWS's pace.
"""

from __future__ import annotations

import os

DEFAULT_SCALE = 0.02


def scale() -> float:
    raw = os.environ.get("LOCALCLOUD_TIME_SCALE", "")
    try:
        value = float(raw) if raw else DEFAULT_SCALE
    except ValueError:
        return DEFAULT_SCALE
    return value if value > 0 else DEFAULT_SCALE


def race_floors() -> bool:
    """Whether the fidelity's windows keep their floors (``LOCALCLOUD_RACE_FLOORS``, on by default):
    off, every duration is AWS's times the scale, as the real-AWS model of ``make bench`` needs."""
    return os.environ.get("LOCALCLOUD_RACE_FLOORS", "on").lower() not in ("off", "0", "false", "no")


def scaled(seconds: float, *, floor: float = 0.0) -> float:
    """AWS's ``seconds`` on the local clock, never below ``floor`` (what the machine itself needs)."""
    return max(float(seconds) * scale(), floor)
