"""Duban's generic BPMN runtime on SpiffWorkflow.

Knows nothing of supervision: the domain (``workflows``) plugs in through
:class:`engine.registry.Registry`. Dependencies point ``api -> workflows -> engine``.
"""
