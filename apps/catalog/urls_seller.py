"""Seller portal product URLs, mounted at ``/sell/<shop_slug>/products/`` (namespace ``catalog_seller``)."""

from django.urls import path

from . import views_seller

urlpatterns = [
    path("", views_seller.product_list, name="list"),
    path("new/", views_seller.product_create_view, name="create"),
    path("<int:product_id>/", views_seller.product_edit_view, name="edit"),
    path("<int:product_id>/archive/", views_seller.product_archive_view, name="archive"),
    path("<int:product_id>/images/", views_seller.product_image_upload_view, name="image-upload"),
    path("<int:product_id>/images/<int:image_id>/", views_seller.product_image_update_view, name="image-update"),
    path("<int:product_id>/images/<int:image_id>/move/", views_seller.product_image_move_view, name="image-move"),
    path("<int:product_id>/images/<int:image_id>/delete/", views_seller.product_image_delete_view, name="image-delete"),
]
