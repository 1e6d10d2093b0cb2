"""report-emulator: a local stand-in for the reporting APIs of Strigo, Echo360, Falkor and ParkUp."""

__version__ = "0.1.0"
