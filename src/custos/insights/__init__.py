"""Dashboards, risk scores and the weekly report."""
