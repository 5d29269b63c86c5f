"""`make doctor`: read-only checks of a stack's accounts against AWS (see `__main__`)."""
