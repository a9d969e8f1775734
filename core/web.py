"""Plumbing the browser pages share: the service layer's errors shown as pages or as form errors.

UI views call the same services and selectors as the API. A DomainError a view does not handle itself
becomes a page with the error's status (core.middleware.DomainErrorPageMiddleware); a form view puts a
service's field errors on the form with `add_domain_errors`, so the user sees them next to the fields."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core.errors import DomainError


def add_domain_errors(form: forms.BaseForm, exc: DomainError) -> None:
    """The service's errors on the form: per field where the form has that field, else on the form."""
    placed = False
    for error in exc.errors:
        field = error.field.split(".")[0].split("[")[0]
        if field in form.fields:
            form.add_error(field, error.message)
        else:
            form.add_error(None, f"{error.field}: {error.message}" if error.field else error.message)
        placed = True
    if not placed:
        form.add_error(None, exc.detail)


def domain_error_page(request: HttpRequest, exc: DomainError) -> HttpResponse:
    """A page for an error no view handled: out-of-scope records are 404 like everything else."""
    template = "404.html" if exc.status == 404 else "error.html"
    return render(request, template, {"error": exc}, status=exc.status)
