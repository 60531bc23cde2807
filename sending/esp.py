"""The mailbox provider (ESP) of a recipient's domain, as DirectMail's statistics name them: gmail.com,
yahoo.com, outlook.com, icloud.com, or others. By the domain alone (the provider of a company domain on
Google Workspace or Microsoft 365 is found from its MX by the shaping work, not here). Statistics count
by it; warm-up caps apply per provider (sending.warmup)."""

from django.db.models import Q

ESPS = ("gmail.com", "yahoo.com", "outlook.com", "icloud.com", "others")

# Domains, or their first label followed by a dot ("yahoo." is yahoo.co.jp, yahoo.fr, ...).
_DOMAINS = {
    "gmail.com": ("gmail.com", "googlemail.com"),
    "yahoo.com": ("yahoo.", "ymail.com", "rocketmail.com", "aol.com", "aim.com"),
    "outlook.com": ("outlook.", "hotmail.", "live.", "msn.com", "windowslive.com"),
    "icloud.com": ("icloud.com", "me.com", "mac.com"),
}


def esp_of(domain: str) -> str:
    domain = domain.lower().rstrip(".")
    for esp, names in _DOMAINS.items():
        for name in names:
            if domain == name or (name.endswith(".") and domain.startswith(name)):
                return esp
    return "others"


def domains_of(esp: str, field: str = "rcpt_domain") -> Q:
    """A filter on a domain field: the domains esp_of gives `esp` for."""
    known = Q()
    for names in _DOMAINS.values():
        for name in names:
            known |= Q(**{f"{field}__startswith": name}) if name.endswith(".") else Q(**{field: name})
    if esp == "others":
        return ~known
    found = Q(pk__in=[])
    for name in _DOMAINS.get(esp, ()):
        found |= Q(**{f"{field}__startswith": name}) if name.endswith(".") else Q(**{field: name})
    return found
