"""The confirmation page shown before every delete or remove (GET shows it, POST acts)."""

from django.shortcuts import render


def confirm_page(
    request,
    *,
    question: str,
    explanation: str,
    button: str,
    back_url: str,
    back_label: str,
    title: str | None = None,
):
    return render(
        request,
        "confirm.html",
        {
            "title": title or button,
            "question": question,
            "explanation": explanation,
            "button": button,
            "cancel_url": back_url,
            "parent_url": back_url,
            "parent_label": back_label,
        },
    )
