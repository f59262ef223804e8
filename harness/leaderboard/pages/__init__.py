"""Page layer: HTML through one autoescaping jinja2 environment, CSV/JSON export, terminal table."""
