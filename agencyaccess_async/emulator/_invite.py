"""The invite page: what the agency's client opens from an access request's invite URL.

Server-rendered HTML, no script and no front-end build: the agency's name,
each requested service with its access level and a Grant and a Reject
button, the intake form when the link asks for one, then the thank-you
message and the redirect to ``redirectURL`` once everything is answered.
The token in the URL is the only thing that opens it (no API key, as on the
hosted service). Every button is the same state change as the admin API's
grant, so ``links.retrieve`` and ``wait_until_granted`` see it at once.

Hardened as a page a stranger's browser opens should be: a Content Security
Policy with no script at all, forms that post only to this page, no framing
and no referrer; each form carries a token of its page (a keyed hash of the
invite token), so a form on another site cannot post a grant; and once the
thank-you page was shown the answers are locked.

Not part of the API: the OpenAPI document does not list these routes.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import secrets
from collections.abc import Callable
from typing import Any

from aiohttp import web

from ._state import Store
from ._validate import ApiFailure

__all__ = ["add_invite_routes"]

_STYLE = """
body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1b1f24}
main{max-width:40rem;margin:0 auto;padding:1.5rem}
h1{font-size:1.4rem;margin:0 0 .25rem}
.service{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:1rem;margin:.75rem 0}
.service h3{margin:0;font-size:1.05rem}
.level{color:#57606a;margin:.25rem 0 .75rem}
.actions{display:flex;gap:.5rem;flex-wrap:wrap}
button{font:inherit;padding:.6rem 1.2rem;border-radius:6px;border:1px solid #8c959f;cursor:pointer;
min-height:44px}
button.grant{background:#1f883d;color:#fff;border-color:#1a7f37}
button:focus-visible,input:focus-visible{outline:3px solid #0969da;outline-offset:2px}
.status{font-weight:600}
label{display:block;margin:.75rem 0 .25rem}
input{font:inherit;width:100%;box-sizing:border-box;padding:.5rem;border:1px solid #8c959f;
border-radius:6px}
.done{background:#dafbe1;border:1px solid #1a7f37;border-radius:8px;padding:1rem}
a{overflow-wrap:anywhere}
.service h2{margin-top:0}
"""
#: The headers of every page: no script, forms to this page only, no framing, no referrer.
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
_INTAKE_FIELDS = (
    ("contact_name", "Your name", "text"),
    ("contact_email", "Your e-mail address", "email"),
)


def add_invite_routes(app: web.Application, store: Callable[[str], Store], agency: str) -> None:
    """Serve the invite page of every link; ``store(token)`` is the records that hold it."""
    pages = _InvitePages(store, agency)
    app.router.add_get("/invite/{token}", pages.page)
    app.router.add_post("/invite/{token}/answer", pages.answer)
    app.router.add_post("/invite/{token}/intake", pages.intake)


class _InvitePages:
    """The page, and the two forms it posts: an answer per service, and the intake form."""

    def __init__(self, store: Callable[[str], Store], agency: str) -> None:
        self._store = store  # the agency's records that hold an invite token
        self._agency = agency
        self._secret = secrets.token_bytes(32)  # keys each page's form token
        self._locked: set[str] = set()  # invites whose thank-you page was shown

    def _form_token(self, token: str) -> str:
        return hmac.new(self._secret, token.encode(), hashlib.sha256).hexdigest()

    def _refused(self, token: str, form: Any) -> web.Response | None:
        """Why a form post is refused (another site's form, or locked answers); None if not."""
        if not hmac.compare_digest(str(form.get("csrf", "")), self._form_token(token)):
            return _html("Not allowed", "<p>This form did not come from this page.</p>", 403)
        if token in self._locked:
            return _html("Already answered", "<p>These answers are final.</p>", 409)
        return None

    def _invited(self, request: web.Request) -> tuple[Store, str, dict[str, Any] | None]:
        token = request.match_info["token"]
        store = self._store(token)
        return store, token, store.invited(token)

    async def page(self, request: web.Request) -> web.Response:
        _, token, link = self._invited(request)
        if link is None:
            return _html(
                "Invite not found", "<p>This invite link is unknown or withdrawn.</p>", 404
            )
        if _answered(link):
            self._locked.add(token)  # the thank-you page is shown: the answers are final
        body = _body(link, self._agency, request.path, self._form_token(token))
        return _html(f"{self._agency} asks for access", body)

    async def answer(self, request: web.Request) -> web.Response:
        store, token, link = self._invited(request)
        form = await request.post()
        decision = form.get("decision")
        if link is None or decision not in ("granted", "rejected"):
            return _html("Not found", "<p>Unknown invite or answer.</p>", 404)
        refused = self._refused(token, form)
        if refused is not None:
            return refused
        platform, service = str(form.get("platform")), str(form.get("service"))
        try:
            store.set_grant(link["linkID"], platform, service, str(decision))
        except ApiFailure:  # a service this link does not request
            return _html("Not found", "<p>This invite does not ask for that service.</p>", 404)
        raise web.HTTPSeeOther(f"/invite/{token}")

    async def intake(self, request: web.Request) -> web.Response:
        store, token, link = self._invited(request)
        if link is None or not link["intakeForm"]:
            return _html("Not found", "<p>This invite has no intake form.</p>", 404)
        form = await request.post()
        refused = self._refused(token, form)
        if refused is not None:
            return refused
        if not all(str(form.get(name, "")).strip() for name, _, _ in _INTAKE_FIELDS):
            return _html("Intake form", "<p>Please fill in every field.</p>", 400)
        store.complete_intake(link["linkID"])
        raise web.HTTPSeeOther(f"/invite/{token}")


def _body(link: dict[str, Any], agency: str, path: str, csrf: str) -> str:
    parts = [
        f"<h1>{html.escape(agency)} asks for access</h1>",
        "<p>Grant or reject each service below. You can change nothing else here.</p>",
        '<section aria-labelledby="services"><h2 id="services">Requested services</h2>',
    ]
    parts += [_service(grant, path, csrf) for grant in link["grants"]]
    parts.append("</section>")
    if link["intakeForm"]:
        parts.append(_intake_form(link, path, csrf))
    if _answered(link):
        parts.append(_finished(link))
    return "\n".join(parts)


def _service(grant: dict[str, Any], path: str, csrf: str) -> str:
    name = f"{grant['platform']} · {grant['service']}"
    level = grant.get("accessLevel")
    level_text = f"Access level: {html.escape(level)}" if level else "Access (no levels)"
    heading = f"<h3>{html.escape(name)}</h3><p class='level'>{level_text}</p>"
    if grant["status"] != "pending":
        status = "Granted" if grant["status"] == "granted" else "Rejected"
        return f"<div class='service'>{heading}<p class='status' role='status'>{status}</p></div>"
    hidden = (
        f"<input type='hidden' name='csrf' value='{csrf}'>"
        f"<input type='hidden' name='platform' value='{html.escape(grant['platform'])}'>"
        f"<input type='hidden' name='service' value='{html.escape(grant['service'])}'>"
    )
    label = html.escape(f"{name}, {level}" if level else name)
    buttons = (
        f"<button class='grant' type='submit' name='decision' value='granted' "
        f"aria-label='Grant {label}'>Grant</button>"
        f"<button type='submit' name='decision' value='rejected' "
        f"aria-label='Reject {label}'>Reject</button>"
    )
    form = (
        f"<form method='post' action='{path}/answer'>{hidden}"
        f"<div class='actions'>{buttons}</div></form>"
    )
    return f"<div class='service'>{heading}{form}</div>"


def _intake_form(link: dict[str, Any], path: str, csrf: str) -> str:
    if link["intakeFormStatus"] == "completed":
        return (
            "<section class='service'><h2>Intake form</h2><p role='status'>Completed</p></section>"
        )
    fields = "".join(
        f"<label for='{name}'>{text}</label>"
        f"<input id='{name}' name='{name}' type='{kind}' required>"
        for name, text, kind in _INTAKE_FIELDS
    )
    return (
        "<section class='service' aria-labelledby='intake'><h2 id='intake'>Intake form</h2>"
        f"<form method='post' action='{path}/intake'>"
        f"<input type='hidden' name='csrf' value='{csrf}'>{fields}"
        "<div class='actions' style='margin-top:1rem'><button class='grant' type='submit'>"
        "Send the intake form</button></div></form></section>"
    )


def _answered(link: dict[str, Any]) -> bool:
    intake_done = not link["intakeForm"] or link["intakeFormStatus"] == "completed"
    return intake_done and all(g["status"] != "pending" for g in link["grants"])


def _finished(link: dict[str, Any]) -> str:
    message = html.escape(link.get("thankYouMessage") or "Thank you: everything is answered.")
    redirect = link.get("redirectURL")
    if not redirect:
        return f"<div class='done' role='status'><p>{message}</p></div>"
    target = html.escape(redirect)
    return (
        f"<div class='done' role='status'><p>{message}</p>"
        f"<p>Taking you on to <a href='{target}'>{target}</a>…</p></div>"
        f"<meta http-equiv='refresh' content='2;url={target}'>"
    )


def _html(title: str, body: str, status: int = 200) -> web.Response:
    page = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )
    return web.Response(text=page, status=status, content_type="text/html", headers=_HEADERS)
