"""CSV cells that spreadsheets will not run: a cell starting with = + - @ TAB or CR gets a leading quote."""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def escape_formula(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text
