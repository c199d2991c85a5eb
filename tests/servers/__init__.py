"""Test servers: a faithful reference implementation and a zoo of faulty variants."""
