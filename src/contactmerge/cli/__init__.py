"""The ``contactmerge`` command: a thin shell over the services."""
