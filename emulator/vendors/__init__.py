"""The vendors the emulator serves. Adding a vendor: one package beside these, one line here."""
from . import echo360, falkor, parkup, strigo

VENDORS = (strigo.vendor, echo360.vendor, falkor.vendor, parkup.vendor)
