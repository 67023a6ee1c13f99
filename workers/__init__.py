"""Dramatiq actors and the infrastructure they drive (broker, mail)."""
