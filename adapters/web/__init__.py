"""The web adapter: the plenum board, a live read-only page per workshop (GET /board/<token>)."""
