"""The tracking endpoints: the open pixel and the click redirect (sending.tracking). No login, no session,
no cookie; one UPDATE and one INSERT per hit. A forged or altered link answers 400 and never redirects.

A signed link redirects only for a message we delivered: otherwise anyone with an account could mint links
on our host that send people anywhere (an open redirect). Such a link shows where it goes instead.
"""

from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import render

from sending import tracking
from sending.models import Message, MessageState


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store, private"
    response["Referrer-Policy"] = "no-referrer"
    return response


def open_pixel(request, token: str):
    pk = tracking.message_for_open(token)
    if pk is not None:
        tracking.record(pk, "open", user_agent=request.headers.get("User-Agent", ""))
    # The image either way: a mail client shows no broken picture, a prober learns nothing.
    return _no_store(HttpResponse(tracking.PIXEL_GIF, content_type="image/gif"))


def click(request, message_id: int, signature: str):
    destination = tracking.click_destination(message_id, signature, request.GET.get("u", ""))
    if destination is None:
        return HttpResponseBadRequest("This link is not valid.", content_type="text/plain; charset=utf-8")
    state = Message.objects.filter(pk=message_id).values_list("state", flat=True).first()
    if state != MessageState.DELIVERED:
        page = render(request, "sending/click_interstitial.html", {"destination": destination})
        page["X-Robots-Tag"] = "noindex"
        return _no_store(page)
    tracking.record(message_id, "click", user_agent=request.headers.get("User-Agent", ""), url=destination)
    return _no_store(HttpResponseRedirect(destination))
