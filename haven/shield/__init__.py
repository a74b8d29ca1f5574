"""Overload protection for each worker: admission control in front of the dynamic routes."""
