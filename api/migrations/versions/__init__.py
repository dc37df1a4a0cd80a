"""The schema revisions, oldest first: v0001 is the initial schema, each later one a step on it.
Revisions are frozen once released: never edit one, add the next (see docs/operations.md)."""
