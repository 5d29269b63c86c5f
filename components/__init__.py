"""Pulumi ComponentResources, one a file; each takes its AWS provider from the caller."""
