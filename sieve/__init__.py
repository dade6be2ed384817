"""sieve."""
