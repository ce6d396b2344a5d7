"""Extension seams: one registry, filled by plugins through the `evalkit` entry-point group."""
