"""One message between the stages, as values: what enrich makes (`enriched.Enriched`, with
the appointment's plan and the personalisation the next stages add to it) and what compose
makes (`composed.Composed`, with the pictures draw adds).

The stages (app/pipeline), the channels, personalise and appointments' state all take these
values; they sit below every one of them, so none imports another to know their shape. Frozen
where they travel: a later stage makes a new value with `dataclasses.replace`.
"""
