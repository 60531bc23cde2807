"""Numbers in Chinese pages as in English ones, 2,000 (Django's zh_Hans writes 2000 and groups by four):
the console's numbers read one way in both languages. Everything else comes from Django's zh_Hans."""

THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
