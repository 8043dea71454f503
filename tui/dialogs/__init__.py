"""dialogs of the qbsync TUI."""
