"""Small shared helpers: errors, file I/O, rotations."""
