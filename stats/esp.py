"""The mailbox provider (ESP) of a recipient's domain, as DirectMail's statistics name them: gmail.com,
yahoo.com, outlook.com, icloud.com, or others. By the domain alone (the provider of a company domain on
Google Workspace or Microsoft 365 is found from its MX by the shaping work, not here)."""

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
