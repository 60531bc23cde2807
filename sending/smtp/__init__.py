"""The SMTP submission server (`manage.py smtpd`): aiosmtpd listeners, AUTH, DirectMail's sending rules, the
durable accept through the enqueue service, and bounce intake for our VERP return paths."""
