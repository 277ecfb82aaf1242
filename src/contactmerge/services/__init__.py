"""Use cases. Each takes an open database session; the caller (request, job, CLI command) commits."""
