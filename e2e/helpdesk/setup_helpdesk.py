"""Create (idempotently) what Fathom needs in django-helpdesk and print it as one JSON line.

- the API user Fathom creates tickets and follow-ups as (staff: the API requires it), with the
  password in FATHOM_HELPDESK_PASSWORD and a DRF token;
- a human agent (AGENT_PASSWORD), who answers tickets;
- the queue Fathom's tickets go to (slug `fathom`).
"""
import json
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fathom_helpdesk.settings")
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from helpdesk.models import Queue  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402


def staff(username, password, first_name):
    user, _ = get_user_model().objects.get_or_create(username=username)
    user.is_staff = True
    user.first_name = first_name
    user.email = f"{username}@helpdesk.invalid"
    user.set_password(password)
    user.save()
    return user


bot = staff("fathom", os.environ.get("FATHOM_HELPDESK_PASSWORD", "fathom-password"), "Fathom")
agent = staff("agent", os.environ.get("AGENT_PASSWORD", "agent-password"), "Dana")
token, _ = Token.objects.get_or_create(user=bot)
queue, _ = Queue.objects.get_or_create(
    slug="fathom",
    defaults={"title": "Fathom handoffs", "allow_public_submission": False},
)
print(
    json.dumps(
        {
            "api_user": bot.username,
            "api_user_id": bot.id,
            "api_token": token.key,
            "agent_user": agent.username,
            "agent_user_id": agent.id,
            "queue_id": queue.id,
        }
    ),
    flush=True,
)
