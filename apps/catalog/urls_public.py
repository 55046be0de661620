from django.urls import path

from . import views_public

urlpatterns = [
    path("", views_public.home, name="home"),
    path("location/", views_public.location_set, name="location"),
    path("c/<slug:category_slug>/", views_public.category_page, name="category"),
    path("shops/<slug:shop_slug>/", views_public.shop_page, name="shop"),
    path("shops/<slug:shop_slug>/<slug:product_slug>/", views_public.product_page, name="product"),
]
