"""The predictions file: its schema, writer and reader."""
