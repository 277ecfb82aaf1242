"""The REST API in Intercom's shapes."""
