"""One exception tree for firstlast. The API maps it to HTTP status codes, the CLI to one-line messages.

FirstlastError
 ├── ConfigError            settings or a profile file are invalid          (CLI exit 2)
 │    └── SchemaOutdated    the database is not at this version's migration  (CLI exit 2)
 ├── IngestError            a source cannot be read or parsed               (HTTP 422)
 │    └── UnsupportedFormat file type with no loader                        (HTTP 415)
 ├── NotFound               a conversation, handoff, suggestion, document   (HTTP 404)
 ├── Conflict               the object is not in a state that allows this  (HTTP 409)
 │    └── AlreadyAnswered   a retried post's key was answered meanwhile     (the first reply)
 ├── InvalidInput           a value fails validation past the schema layer  (HTTP 422)
 └── BackendError           an engine (Chroma, database, model) failed      (HTTP 503)
"""

from __future__ import annotations


class FirstlastError(Exception):
    """Base of every error firstlast raises on purpose."""


class ConfigError(FirstlastError):
    pass


class SchemaOutdated(ConfigError):
    """The database was made by another version: ``firstlast db upgrade`` brings it to this one."""


class IngestError(FirstlastError):
    pass


class UnsupportedFormat(IngestError):
    pass


class NotFound(FirstlastError):
    pass


class Conflict(FirstlastError):
    pass


class AlreadyAnswered(Conflict):
    """The post's ``Idempotency-Key`` already has a stored response (a retry, or another request
    with the key that stored first): nothing of this post is stored; the caller gets that response."""


class InvalidInput(FirstlastError):
    pass


class BackendError(FirstlastError):
    pass
