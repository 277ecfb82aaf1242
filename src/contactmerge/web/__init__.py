"""Server-rendered pages and static files."""
