from django.urls import path

from . import views_imports

urlpatterns = [
    path("", views_imports.import_list, name="list"),
]
