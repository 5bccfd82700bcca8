"""gradspec's pytest plugin: collects cases/ into items (see gradspec/plugin.py)."""
pytest_plugins = ["gradspec.plugin"]
