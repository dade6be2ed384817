"""mailstack."""
