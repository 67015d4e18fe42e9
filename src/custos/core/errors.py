"""Domain errors: raised by services and selectors, turned into 4xx responses by the faces.

Every error has a stable machine code and a message for a person. The API renders them as
{"error": code, "message": message}; the console shows the message; the CLI prints one line.
"""


class DomainError(Exception):
    code = "invalid"
    status = 400

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class NotFound(DomainError):
    code = "not_found"
    status = 404


class Forbidden(DomainError):
    code = "forbidden"
    status = 403


class Conflict(DomainError):
    code = "conflict"
    status = 409


class InvalidInput(DomainError):
    code = "invalid"
    status = 400


class Gone(DomainError):
    """It existed and was removed on purpose (an expired evidence package): 410."""

    code = "gone"
    status = 410


class Throttled(DomainError):
    """Too many attempts from here: try again later (429)."""

    code = "throttled"
    status = 429


class Unavailable(DomainError):
    """A service Custos depends on (the attachment store) does not answer: try again (503)."""

    code = "unavailable"
    status = 503
