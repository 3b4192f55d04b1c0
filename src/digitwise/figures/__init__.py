"""Drawing only: every function returns a figure and never saves it."""
