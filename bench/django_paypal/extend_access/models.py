from django.db import models


class AccessExtension(models.Model):
    """One row per valid_ipn_received firing that the handler acted on: where a real site
    would add a paid period to the member's access."""

    ipn_id = models.BigIntegerField()
    txn_id = models.CharField(max_length=64, db_index=True)
    subscr_id = models.CharField(max_length=64, blank=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2, null=True)
    created_at = models.DateTimeField(auto_now_add=True)
