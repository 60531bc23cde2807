"""Types the apps share."""

from django.utils.functional import Promise

# Text for people: a str, or a lazy translation (gettext_lazy) turned into one where it is shown.
Label = str | Promise
