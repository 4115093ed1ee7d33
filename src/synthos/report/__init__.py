"""summary.json and the HTML report."""
