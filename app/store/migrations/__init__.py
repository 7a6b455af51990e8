"""Storage, schema history: the Alembic environment (env.py) and one revision per change (versions/).

Run through `flask --app app db ...` (app/store/schema.py), never through a bare `alembic`
command: there is no alembic.ini, and the schema module hands env.py a connection it holds
under the schema lock.
"""
