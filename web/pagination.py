from rest_framework.pagination import CursorPagination, PageNumberPagination


class Pagination(PageNumberPagination):
    """Small, bounded lists (cameras, zones): numbered pages with a count."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class NewestFirst(CursorPagination):
    """Lists that grow with history: keyset pages on the id, no COUNT(*), same cost on page 1 and 10,000.

    DRF positions a cursor on its first ordering field only, so that field is the unique, monotonic id.
    """

    ordering = "-id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
