"""Capacity planning above single runs: sweeps of service settings with common random numbers."""
