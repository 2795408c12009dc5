"""The stand-in's fixtures live in tests/conftest.py (the gateway's tests use them too)."""
