"""The offline HTML report: its inputs, its page, its style sheet."""
