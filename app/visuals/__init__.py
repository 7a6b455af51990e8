"""Pictures a message shows: QR codes, consumption charts, a request's images made safe, and
each brand's dark-scheme colours and logo.

Input: values from the pipeline; output: content-addressed PNGs (and SVG for charts) in the
artifact store, drawn once. Below the pipeline and the channels; it reads and writes files
through app.store.artifacts and nothing else of the store.
"""
