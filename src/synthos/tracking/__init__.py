"""MLflow tracking: one run per validation."""
