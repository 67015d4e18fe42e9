"""The service desk, key-account plans, small care and loyalty."""
