"""The render benchmark: `python -m bench` (see README.md here and bench/render.py)."""
