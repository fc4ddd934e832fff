"""Emissions of LLM calls, three ways: api-emissions-tracker factors and EcoLogits ranges for remote calls,
CodeCarbon measurement for local ones; plus the side-by-side view, the decision matrix and budgets.

Importing this package imports no estimation library (each loads on first use).

    from helpers.emissions import estimate
    estimate("openai", "gpt-3.5-turbo-0125", 10, 9).tracker_g   # 0.0467 g CO2e
"""

from __future__ import annotations

from .estimates import annotate, estimate

__all__ = ["annotate", "estimate"]
