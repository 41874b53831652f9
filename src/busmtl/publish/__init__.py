"""Publishing layer: ``busmtl book`` (data, sweep, table of contents, Jupyter Book build)."""
