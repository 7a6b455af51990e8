"""Customers in control: the preference centre (`/p/<token>`) and one-click unsubscribe
(`/u/<token>`, RFC 8058), behind the links every message carries.

    tokens.py  the signed, expiring, opaque links; the centre's CSRF tokens
    centre.py  what the customer receives and why; a change written with its audit, its note
               on the message and the `profile.preferences_changed` webhook, in one transaction
    pages.py   the pages' view models

What is written here is read by the next render: app/personalise keeps a brand's blocks out
for a customer who unsubscribed (`unsubscribed:<date>` in the trace), and topics switched off.
"""
