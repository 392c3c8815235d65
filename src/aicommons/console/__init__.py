"""The web console: server-rendered pages (Jinja2, htmx) over the same service functions as the API.

`mount(app)` adds the pages under `/` and the packaged assets under `/static`; the API stays under
`/api/v1`. Each page is a thin route in `routes/<service>.py` that calls service functions and
renders `templates/<service>/<page>.html`; `deps.py` says who is asking (a console session cookie),
`locales.py` translates (zh-CN by default, English switchable) and `pages.py` renders and turns the
services' errors into pages.
"""

from aicommons.console.app import mount

__all__ = ["mount"]
