"""Spanish as written in the United States: Django's own "es" formats use a decimal comma (2,4 millas), but US
Spanish, like Mexican Spanish (Django's es_MX), writes 2.4 and 1,250. Dates read "15 de marzo de 2026"."""

DATE_FORMAT = r"j \d\e F \d\e Y"
YEAR_MONTH_FORMAT = r"F \d\e Y"
MONTH_DAY_FORMAT = r"j \d\e F"
SHORT_DATE_FORMAT = "d/m/Y"
DECIMAL_SEPARATOR = "."
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
