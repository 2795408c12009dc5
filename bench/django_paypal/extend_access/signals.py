"""The handler django-paypal's documentation shows, recording each firing it acts on."""

from django.dispatch import receiver
from paypal.standard.ipn.signals import valid_ipn_received
from paypal.standard.models import ST_PP_COMPLETED

from .models import AccessExtension

RECEIVER = "merchant@example.com"


@receiver(valid_ipn_received, dispatch_uid="extend_access.on_valid_ipn")
def on_valid_ipn(sender, **kwargs) -> None:
    ipn = sender
    if ipn.payment_status != ST_PP_COMPLETED or ipn.receiver_email != RECEIVER:
        return
    AccessExtension.objects.create(
        ipn_id=ipn.id, txn_id=ipn.txn_id, subscr_id=ipn.subscr_id, amount=ipn.mc_gross
    )
