"""firstlast: the bot answers first, a person answers last, and the bot learns from them."""

__version__ = "0.1.0"
