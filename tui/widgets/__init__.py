"""widgets of the qbsync TUI."""
