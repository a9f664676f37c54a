"""core: what every layer may use. Errors, escaping of user text, guarded file access, the pure
text helpers (numbers, shapes, the JSON writer), the display hook and the one dtype table."""
