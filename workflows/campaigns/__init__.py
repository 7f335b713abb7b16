"""Campaigns (专项行动 / 巡察轮次, issue 15): scope, categories, stages, figures.

No listeners: problems and items carry their campaign from registration
(``workflows.rectification.problems``, ``workflows.supervision.items``).
"""
