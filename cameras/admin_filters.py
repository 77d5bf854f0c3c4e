"""Admin list helpers for tables that grow with history (detections, sightings, snapshots)."""

from django.contrib import admin

from cameras.codes import FORMATS


class FormatFilter(admin.SimpleListFilter):
    """Choices from the one list of formats: Django's default asks the table for its distinct
    values, a scan of every row ever stored."""

    title = "format"
    parameter_name = "format"

    def lookups(self, request, model_admin) -> list[tuple[str, str]]:
        return [(f, f) for f in FORMATS]

    def queryset(self, request, queryset):
        return queryset.filter(format=self.value()) if self.value() else queryset


class ExactPayloadSearch:
    """Admin search by the exact payload: ``text = %s`` on its index. Django's ``=text`` search is
    case-insensitive (UPPER(text) = UPPER(%s)), which no index serves; payloads are case-sensitive."""

    search_fields = ["text"]
    search_help_text = "exact payload"

    def get_search_results(self, request, queryset, search_term: str):
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(text=term), False
