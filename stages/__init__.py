"""digitwise: train a digit classifier and explain its errors, one DVC stage per module."""
