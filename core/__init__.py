"""Identity engine and policies. Imports neither Qt nor SQL."""
