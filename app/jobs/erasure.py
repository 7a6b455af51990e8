"""The inputs of job items that rendered for a customer, erased with them
(app/store/customers.py `erase_customer`)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import null, update
from sqlalchemy.orm import Session

from app.jobs.models import JobItem
from app.store.ids import chunks


def erase_customer(db: Session, customer_id: str, message_ids: Sequence[str]) -> None:
    """Job items keep their request (the recipient's name, address, ...) until the job is
    purged: an erased customer's go now. The items stay, without input, so a job's counts hold;
    one still queued then fails as a line that is not a request."""
    recipient = JobItem.request[("recipient", "customer_id")].as_string()
    scrub = {"request": null(), "reference": None}
    db.execute(update(JobItem).where(recipient == customer_id).values(scrub))
    for chunk in chunks(message_ids):
        db.execute(update(JobItem).where(JobItem.message_id.in_(chunk)).values(scrub))
