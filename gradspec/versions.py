"""Version numbers that other modules and outside tools key on, in one place
that imports nothing."""

SUITE_VERSION = "0.2.0"
# The run record's format (gradspec/run-record.schema.json); version 1 is still read.
SCHEMA_VERSION = 2
READABLE_SCHEMA_VERSIONS = (1, 2)
