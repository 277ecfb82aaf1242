"""The worker: claims merge marks (and later jobs) and applies them."""
