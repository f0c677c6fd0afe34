from django.contrib import admin

from .models import Export, ExportToken


@admin.register(Export)
class ExportAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "format", "state", "row_count", "bytes", "created_at"]
    list_filter = ["state", "format"]
    readonly_fields = [f.name for f in Export._meta.fields]


@admin.register(ExportToken)
class ExportTokenAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "name", "key_prefix", "created_at", "revoked_at"]
    readonly_fields = ["key_hash", "key_prefix", "created_at", "last_used_at"]
