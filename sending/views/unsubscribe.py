"""The unsubscribe link of batch mail (sending.unsubscribe): no login, no cookie, no redirect.

GET shows what the link will do and a button; only a POST unsubscribes. Mail clients' one-click POST
(RFC 8058, body `List-Unsubscribe=One-Click`) is answered the same way. Repeating it changes nothing.
"""

from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

from sending import unsubscribe as service


@csrf_exempt  # mail clients post without a cookie or a token of ours; the link's own token is the proof
def unsubscribe_page(request, token: str):
    message = service.message_for(token)
    if message is None:
        return render(request, "sending/unsubscribe.html", {"invalid": True}, status=400)
    context = {
        "message": message,
        "sender": message.envelope.sender.address,
        "level": message.envelope.unsubscribe_level,
    }
    if request.method == "POST":
        one_click = request.POST.get("List-Unsubscribe") == "One-Click"
        service.unsubscribe(message, how="one-click" if one_click else "page")
        context["done"] = True
    return render(request, "sending/unsubscribe.html", context)
