"""CSV import (R3): read the file, map and validate each row, match and write it in chunks, undo."""
