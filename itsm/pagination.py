from rest_framework import pagination


class CursorPagination(pagination.CursorPagination):
    """Cursor pages: stable while incidents keep arriving, and no COUNT(*) over millions of rows."""

    ordering = "-created_at"
    page_size_query_param = "page_size"
    max_page_size = 200
