"""Policy documents as plain Python data: pure functions, testable and renderable offline."""
