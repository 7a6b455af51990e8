"""Appointments as things that live on after their message: state, changes and customer actions.

A render request says what an appointment is *now*; this package remembers it, so that
- the calendar invite's SEQUENCE rises with every change (`state.plan`, read before the
  channels draw; `state.record`, written in the message's own transaction),
- the customer can move or cancel it from the message (`actions`), behind signed links
  (`tokens`), and upstream hears of it through a durable webhook (`app.webhooks`),
- an old message opened later shows the appointment as it now stands (`current`).

Its tables (`models`) join the store's schema when the package is imported, and `init_app`
has the store erase a customer's appointments with them (`erasure`).
"""

from __future__ import annotations

from flask import Flask

# `models` defines the tables on the store's metadata as it loads (app/store/schema.py).
from app.appointments import erasure, models  # noqa: F401
from app.store.customers import on_erase


def init_app(app: Flask) -> None:
    on_erase(app, erasure.erase_customer)
