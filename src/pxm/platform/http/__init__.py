"""JSON API conventions: error envelope, pagination, idempotency keys, request ids."""
