"""The supervision domain (督查督办) on the generic engine: what the shipped processes call."""
