"""How every browser form renders: Bootstrap markup, an error summary that links each error to its field,
labels on every field, help text and errors tied to the input (aria-describedby, aria-invalid)."""

from __future__ import annotations

from django.forms.renderers import TemplatesSetting


class RedlineFormRenderer(TemplatesSetting):
    form_template_name = "forms/redline_div.html"
    field_template_name = "forms/redline_field.html"
