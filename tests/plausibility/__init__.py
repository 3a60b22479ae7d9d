"""The clinical plausibility check: its rules on hand-made tables, the shipped scenarios, the command."""
