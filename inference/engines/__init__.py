"""Singing engines, one folder each."""
