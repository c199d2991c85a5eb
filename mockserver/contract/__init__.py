"""The OpenAPI document, read once per load: its operations, the compiled checks and their
oracle (openapi-core), parameters read as the reference reads them, its examples and replies,
values its schemas describe, and the watcher that reloads it."""
