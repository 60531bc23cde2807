"""Paging for console lists: one page size and one `?page=` parameter everywhere."""

from django.core.paginator import Page, Paginator

PAGE_SIZE = 25


def page_of(request, queryset, per_page: int = PAGE_SIZE) -> Page:
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))
