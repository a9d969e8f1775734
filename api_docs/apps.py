from django.apps import AppConfig


class ApiDocsConfig(AppConfig):
    name = "api_docs"
    verbose_name = "API documentation and published JSON Schemas"
