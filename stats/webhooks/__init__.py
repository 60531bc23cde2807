"""Webhooks: signed notifications of what happens to mail, delivered with retries.

- events.py: the sending.events listener that turns recorded events into WebhookEvents (DirectMail's
  CloudEvents payload), and the event types an endpoint may choose;
- signing.py: the X-DirectMail-Signature header and how a receiver checks it;
- delivery.py: sending the events (POST or a Redis stream), retries, disabling a failing endpoint;
- endpoints.py: the service the console calls (create, change, test, replay);
- views.py and forms.py: the console's pages.

The models are stats.models' (WebhookEndpoint, WebhookEvent, WebhookAttempt); the tasks enter through
stats.tasks. The names below are kept here for tasks queued under them before this became a package.
"""

from stats.webhooks.delivery import deliver_due, deliver_event, kick, purge  # noqa: F401
from stats.webhooks.signing import sign, verify  # noqa: F401
