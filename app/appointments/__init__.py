"""Appointments as things that live on after their message: state, changes and customer actions.

A render request says what an appointment is *now*; this package remembers it, so that
- the calendar invite's SEQUENCE rises with every change (`state.plan`, read before the
  channels draw; `state.record`, written in the message's own transaction),
- the customer can move or cancel it from the message (`actions`), behind signed links
  (`tokens`), and upstream hears of it through a durable webhook (`app.webhooks`),
- an old message opened later shows the appointment as it now stands (`current`).

The package `__init__` imports nothing, so `app.store` can load the models without a cycle.
"""
