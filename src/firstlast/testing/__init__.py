"""Helpers shipped for tests: wrappers around real components, never fakes of them."""
