"""Browser pages of the core: the landing page."""

from django.urls import path

from core import views

urlpatterns = [
    path("", views.home, name="home"),
]
