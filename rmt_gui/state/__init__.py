"""Qt-free observable application state."""
