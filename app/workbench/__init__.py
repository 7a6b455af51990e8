"""The designers' and QA workbench: see, check and compare what the templates make.

- `scratch.py`: render a fixture like the service does, through `prepare_message` and the
  channel functions, without storing anything (no Message row, no message artifacts);
- `failures.py`: any render error as the template file, line and message a designer can fix;
- `mjml_check.py`: the MJML structure rules mjml-python (mrml) does not check, with lines;
- `lint.py`: `flask --app app lint`, every component, template, brand and fixture checked;
- `snapshots.py`: `flask --app app snapshots`, rendered pictures compared with approved ones.
- `gallery.py`: the preview gallery's core: the renders it keeps while no watched file
  changes, and the dark scheme as a client shows it.

The preview gallery (`GET /preview`) is the blueprint in `app/http/preview.py`.
Nothing here runs while the service renders a customer's message.
"""
