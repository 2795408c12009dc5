"""Receipts a business can file: numbered once (`numbering`), read from the payment, its
subscription and its refunds (`document`), shown as a page and as a PDF (`pdf`)."""
