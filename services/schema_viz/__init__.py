"""schema-viz: diagrams and knowledge maps of the platform, derived from its own catalogue and migrations."""
