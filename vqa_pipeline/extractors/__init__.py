"""Model extractors behind one protocol, and the registry of profiles."""
