"""screens of the qbsync TUI."""
