from django.urls import path

from . import views_imports

urlpatterns = [
    path("", views_imports.import_list, name="list"),
    path("example.csv", views_imports.import_example_csv, name="example"),
    path("<int:job_id>/", views_imports.import_detail, name="detail"),
    path("<int:job_id>/progress/", views_imports.import_progress, name="progress"),
    path("<int:job_id>/errors.csv", views_imports.import_errors_csv, name="errors-csv"),
]
