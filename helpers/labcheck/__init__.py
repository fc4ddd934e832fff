"""Checkers for the labs: each looks at a student's work and says what is right, what is wrong (and how
to fix it) and what is not done yet. A check never raises because of the student's code: an unfinished
step (``None``, an empty value, ``NotImplementedError``) is reported as "not done yet".

In a lab's ``check`` cell: ``labcheck.two_providers(models=models, answers=answers, …)``; the Report
renders as Markdown in a notebook and as text elsewhere.

One module per lab (``labNN_name.py``) holds its checker; ``core`` holds what they share.
"""

from helpers.labcheck.core import NOT_DONE, Finding, Report, attempt, close
from helpers.labcheck.lab01_two_providers import expected_summary, two_providers
from helpers.labcheck.lab02_grader import grader_comparison, write_a_grader
from helpers.labcheck.lab03_three_way import three_way
from helpers.labcheck.lab04_add_a_provider import add_a_provider, served_models
from helpers.labcheck.lab05_energy import energy_per_token
from helpers.labcheck.lab06_decision import decision_matrix

__all__ = ["NOT_DONE", "Finding", "Report", "add_a_provider", "attempt", "close", "decision_matrix", "energy_per_token",
           "expected_summary", "grader_comparison", "served_models", "three_way", "two_providers", "write_a_grader"]
