"""Storage, schema history: one Alembic revision per change, named `NNNN_what.py`."""
