"""Suite format: pydantic schema, strict YAML loading with file:line errors, JSON Schema export."""
