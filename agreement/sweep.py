"""Missed agreement recomputations, queued by the sweeper (web/sweeper.py)."""

from __future__ import annotations

from web import sweeper

from .scheduling import agreement_catch_up


@sweeper.register
def sweep_agreement() -> dict[str, int]:
    return {"queued": agreement_catch_up()}
