"""What people read: figures (each function returns a matplotlib Figure), text tables, and the
folders a command writes. The only layer (with the app) that imports matplotlib."""
