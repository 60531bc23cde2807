"""What a mail client needs to send through this server, for the console and the docs: host, ports, TLS,
credentials, and copyable configuration for Python's smtplib and Django."""

from django.conf import settings


def client_settings() -> dict:
    return {
        "host": settings.SMTPD_PUBLIC_HOST,
        "starttls_ports": settings.SMTPD_PORT,
        "tls_ports": settings.SMTPD_TLS_PORT,
    }


def snippets(address: str, password: str = "") -> dict[str, str]:
    """Configuration that sends from `address`; the password only when it is being shown anyway."""
    host = settings.SMTPD_PUBLIC_HOST
    password = password or "<the SMTP password>"
    tls_port = (settings.SMTPD_TLS_PORT or [465])[0]
    starttls_port = (settings.SMTPD_PORT or [587])[0]
    smtplib_code = f"""import smtplib
from email.message import EmailMessage

mail = EmailMessage()
mail["From"], mail["To"], mail["Subject"] = "{address}", "someone@example.org", "Hello"
mail.set_content("Hello from directmail")
with smtplib.SMTP_SSL("{host}", {tls_port}) as client:  # or SMTP("{host}", {starttls_port}) + starttls()
    client.login("{address}", "{password}")
    client.send_message(mail)
"""
    django_code = f"""EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = "{host}"
EMAIL_PORT = {tls_port}
EMAIL_USE_SSL = True  # or EMAIL_PORT = {starttls_port} with EMAIL_USE_TLS = True (STARTTLS)
EMAIL_HOST_USER = "{address}"
EMAIL_HOST_PASSWORD = "{password}"
DEFAULT_FROM_EMAIL = "{address}"
"""
    return {"Python smtplib": smtplib_code, "Django settings": django_code}
