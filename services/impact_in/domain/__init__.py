"""Pure logic of impact-in: no I/O, time passed in."""
