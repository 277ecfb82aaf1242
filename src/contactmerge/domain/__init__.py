"""Pure rules over plain data: standard library only (a test enforces it)."""
