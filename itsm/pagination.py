from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property
from rest_framework import pagination


class CursorPagination(pagination.CursorPagination):
    """Cursor pages: stable while incidents keep arriving, and no COUNT(*) over millions of rows."""

    ordering = "-created_at"
    page_size_query_param = "page_size"
    max_page_size = 200


class CappedPaginator(Paginator):
    """Page numbers for a web list, counting no further than `cap` rows.

    An exact COUNT(*) over a million incidents reads them all on every page view.
    Past the cap the page says "more than" instead, and people narrow the filters or
    search: nobody pages through forty pages of incidents to find one.
    """

    cap = 1_000

    @cached_property
    def count(self) -> int:
        rows = self.object_list
        if isinstance(rows, QuerySet):
            return rows.values("pk").order_by()[: self.cap + 1].count()
        return min(len(rows), self.cap + 1)

    @property
    def capped(self) -> bool:
        return self.count > self.cap

    @property
    def pages_shown(self) -> int:
        """The number of whole pages below the cap: what "of more than N" says."""
        return self.cap // self.per_page if self.capped else self.num_pages
