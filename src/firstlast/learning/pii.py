"""Removes personal data from text before it can become knowledge.

Emails, street addresses and postcodes (English, German and French street forms; UK and US
postcodes), phone numbers, payment card numbers (Luhn-checked), IBANs, order/account/ticket numbers
and long digit runs are replaced by placeholders such as ``[email]``. Names the caller knows (the
customer's name from the conversation context) are removed as well.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_EMAIL = re.compile(r"\b[\w.%+-]+@[\w-]+(?:\.[\w-]+)+\b")
_CARD = re.compile(r"(?<![+\d])\b(?:\d[ -]?){12,18}\d\b")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){2,7}(?:\s?[A-Z0-9]{1,3})?\b")
# "+33 1 23 45 67 89", "+81 3-1234-5678", "(555) 123-4567", "07700 900123"; _phone checks the digits
_PHONE = re.compile(
    r"(?<![\w])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{1,5}(?:[\s.-]\d{1,8}){1,5}(?![\w])"
    r"|\+\d{8,15}(?![\w])"
)
# A whole keyword, then an identifier with a digit in it: "refunded" and "order history" are not references.
_REFERENCE = re.compile(
    r"\b(?:order|account|acct|invoice|ticket|case|customer|member|booking|reference|ref)\b"
    r"(?:\s*(?:no\.?|number|id|#))?\s*[:#]?\s*(?=[A-Z-]*\d)[A-Z0-9][A-Z0-9-]{3,}\b",
    re.IGNORECASE,
)
_HASH_REF = re.compile(r"#\s?\d{4,}\b")
# "221B Baker Street", "1600 Pennsylvania Ave NW, Suite 4", "Hauptstraße 5", "SW1A 1AA", "CA 94103"
_STREET = re.compile(
    r"\b\d{1,5}[A-Za-z]?(?:\s+(?-i:[A-Z][\w'’.-]*)){1,4}\s+"
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl|Way|Terrace|"
    r"Close|Crescent|Square|Sq|Highway|Hwy|Parkway|Pkwy)\b\.?(?:\s+(?:NW|NE|SW|SE|N|S|E|W)\b)?"
    r"(?:,?\s*(?:Apt|Apartment|Suite|Unit|Flat|Floor)\.?\s*#?\s*[A-Za-z0-9-]+)?"
    r"|\b(?-i:[A-ZÄÖÜ][a-zäöüß]+)(?:straße|strasse|weg|gasse|platz|allee)\s+\d{1,4}[a-z]?\b"
    r"|\b\d{1,4}(?:bis|ter)?,?\s+(?:rue|avenue|boulevard|chemin|impasse|allée)\s+(?:(?:de|du|des|la|le|l['’])\s*)*"
    r"(?-i:[A-Z][\w'’-]+)(?:\s+(?-i:[A-Z][\w'’-]+))*",
    re.IGNORECASE,
)
_POSTCODE = re.compile(
    r"\b(?:[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}"  # UK
    r"|(?:AL|AK|AZ|AR|CA|CO|CT|DE|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|"
    r"NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY)\s+\d{5}(?:-\d{4})?)\b"  # US state + ZIP
)
_POSTCODE_AFTER_ADDRESS = re.compile(r"(?<=\[address\],\s)\d{4,5}\b")  # "[address], 10115 Berlin"
_LONG_DIGITS = re.compile(r"\b\d{6,}\b")


def _luhn(digits: str) -> bool:
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = int(ch)
        if i % 2 == parity:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "[card number]" if 13 <= len(digits) <= 19 and _luhn(digits) else match.group(0)


def _phone(match: re.Match[str]) -> str:
    """7+ digits with a country code, a bracketed area code, 3+ groups or 10+ digits; so "2023-2024" stays."""
    found = match.group(0)
    digits = sum(c.isdigit() for c in found)
    groups = len(re.findall(r"\d+", found))
    if digits >= 7 and (found[0] in "+(" or groups >= 3 or digits >= 10):
        return "[phone]"
    return found


def scrub(text: str, names: Iterable[str] = ()) -> str:
    """Text with personal data replaced by placeholders."""
    text = _EMAIL.sub("[email]", text)
    text = _STREET.sub("[address]", text)
    text = _POSTCODE.sub("[address]", text)
    text = _POSTCODE_AFTER_ADDRESS.sub("[address]", text)
    text = _CARD.sub(_card, text)
    text = _IBAN.sub("[bank account]", text)
    text = _REFERENCE.sub(lambda m: m.group(0).split()[0].rstrip(":#") + " [reference]", text)
    text = _HASH_REF.sub("[reference]", text)
    text = _PHONE.sub(_phone, text)
    text = _LONG_DIGITS.sub("[number]", text)
    for name in names:
        name = name.strip()
        if len(name) >= 2:
            text = re.sub(rf"\b{re.escape(name)}\b", "[name]", text, flags=re.IGNORECASE)
    return text


def contains_pii(text: str) -> bool:
    return scrub(text) != text


def customer_names(attributes: object) -> list[str]:
    """The customer's name and its parts, from widget attributes such as ``customer_name``."""
    if not isinstance(attributes, dict):
        return []
    full = [str(v) for k, v in attributes.items() if "name" in str(k).lower() and v]
    return full + [part for name in full for part in name.split() if len(part) >= 2]
