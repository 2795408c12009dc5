from django.urls import include, path

urlpatterns = [
    path("paypal/", include("paypal.standard.ipn.urls")),
]
