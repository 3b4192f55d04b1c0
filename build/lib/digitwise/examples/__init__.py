"""Which held-out images to show for a confusion."""
