from django.urls import path

from . import views_search

urlpatterns = [
    path("", views_search.search_results, name="results"),
    path("location/", views_search.location_set, name="location"),
]
