"""Test helpers for code that runs behind Envoy (pytest plugin: ``envoykit.testing.plugin``)."""
