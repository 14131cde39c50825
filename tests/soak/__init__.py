"""Soaks: the real `serve` process driven over HTTP by scripted workshops, with faults injected."""
