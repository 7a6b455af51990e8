"""Serving: `make run` (`python -m app.serve`) starts the service as production runs it.

    launcher    -> checks the settings, upgrades the schema once, makes the development key,
                   then starts and supervises the two below, and stops them gracefully
    web         -> gunicorn (gunicorn_conf.py): one process per core, a few threads each,
                   answering HTTP and running no runner
    background  -> one process (background.py): the job runner (or, with a broker, the Celery
                   sender) and the webhook runner, exactly once per machine

A web process tells the background one that work was queued through app/wake.py, which
the jobs and webhooks that queue it import from below.
"""
