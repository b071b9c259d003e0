"""Fixtures shared by several test modules (files the tests write themselves)."""
