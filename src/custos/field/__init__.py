"""Field work: check-ins, tracks, sites and geofences, visit reports."""
