"""Topline's sidecar: pipeline stages (analyze, compose, render, produce) and singing engines."""
