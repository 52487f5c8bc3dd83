#!/usr/bin/env python3
"""Django's command line for the django-helpdesk instance Fathom's end-to-end test runs."""
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fathom_helpdesk.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
