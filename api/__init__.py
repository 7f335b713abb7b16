"""Duban's HTTP service: the Flask app, the command line, the schema migrations."""
