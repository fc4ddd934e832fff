"""Estimates of one call: pure functions of (model, tokens, latency, zone), plus the budget that uses them.

- ``cost``: dollars from genai-prices.
- ``factors`` (api-emissions-tracker's g CO2e per token), ``ecologits_range`` (EcoLogits' min–max) and
  ``emissions`` (both on an Answer).
- ``measure``: CodeCarbon around a local call (energy of this machine).
- ``budget``: dollars and grams, reserved before a call and settled after it.
- ``methods``: the three emission methods side by side.

Importing this package imports no estimation library (each loads on first use).
"""
