#!/usr/bin/env python
"""Django's command line for the django-paypal side of bench/side_by_side.py."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dp_site.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
