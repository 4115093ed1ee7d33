"""A real/synthetic demo pair built from a dataset that ships with scikit-learn."""
