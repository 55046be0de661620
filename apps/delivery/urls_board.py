from django.urls import path

from . import views_board as views

urlpatterns = [
    path("", views.board, name="board"),
    path("build/", views.build, name="build"),
    path("runs/<int:run_id>/start/", views.start, name="start"),
    path("runs/<int:run_id>/sheet/", views.sheet, name="sheet"),
]
