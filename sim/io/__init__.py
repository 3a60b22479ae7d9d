"""Writing files without losing a user's data: atomic files and cd7sim's own output folders."""
