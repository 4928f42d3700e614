"""The `grants` command line: parses, calls the application, renders."""
