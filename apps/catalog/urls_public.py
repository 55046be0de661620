from django.urls import path

from . import views_public

urlpatterns = [
    path("", views_public.home, name="home"),
    path("shops/<slug:shop_slug>/", views_public.shop_page, name="shop"),
    path("shops/<slug:shop_slug>/<slug:product_slug>/", views_public.product_page, name="product"),
]
