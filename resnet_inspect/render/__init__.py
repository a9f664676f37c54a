"""render: tables, JSON/CSV/Markdown, CI formats, notebook reprs, diagrams and the HTML report."""
