"""What requests and workers share: the control settings (SQLite and a memory map), the
journal's rings, the access log's line, and every bounded cache."""
