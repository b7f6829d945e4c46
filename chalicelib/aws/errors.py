"""Whether an AWS error is worth retrying: a transient one may pass, a permanent one never will.

A transient error (throttling, a 5xx, a timeout, a dropped connection) should fail the function so
Lambda retries it. A permanent one (a resource that does not exist, access denied, a request AWS
finds invalid) answers the same on every retry: retrying only delays telling people, and ends in
the dead-letter queue. Anything else (a conflict, an unknown code, a bug) is neither: callers keep
their usual path for it.

>>> from botocore.exceptions import ClientError
>>> gone = ClientError({"Error": {"Code": "TargetGroupNotFound"}}, "DescribeTargetGroups")
>>> is_permanent(gone), is_transient(gone)
(True, False)
>>> describe_error(gone)
'DescribeTargetGroups: TargetGroupNotFound'
"""

from __future__ import annotations

from chalicelib.aws.clients import THROTTLING_CODES

TRANSIENT_CODES = THROTTLING_CODES | {
    "EC2ThrottledException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "InternalServiceError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "Unavailable",
    "RequestTimeout",
    "RequestTimeoutException",
    "PriorRequestNotComplete",
    "TransactionInProgressException",
    "ExpiredToken",  # the runtime refreshes its credentials
    "ExpiredTokenException",
    "RequestExpired",
    "IDPCommunicationError",
}
PERMANENT_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "AuthFailure",
        "AuthorizationError",
        "Forbidden",
        "MissingParameter",
        "OptInRequired",
        "UnauthorizedOperation",
        "UnrecognizedClientException",
        "UnsupportedOperation",
        "ValidationError",
        "ValidationException",
    }
)
# Families of codes: TargetGroupNotFound, InvalidInstanceID.NotFound, NoSuchBucket,
# ResourceNotFoundException, InvalidParameterValue, ...
PERMANENT_SUFFIXES = ("NotFound", "NotFoundException")
PERMANENT_PREFIXES = ("NoSuch", "Invalid")


def error_code(exc: BaseException) -> str:
    """The AWS error code of a ClientError ("" for anything else)."""
    response = getattr(exc, "response", None)
    error = response.get("Error") if isinstance(response, dict) else None
    return str(error.get("Code") or "") if isinstance(error, dict) else ""


def http_status(exc: BaseException) -> int:
    response = getattr(exc, "response", None)
    metadata = response.get("ResponseMetadata") if isinstance(response, dict) else None
    status = metadata.get("HTTPStatusCode") if isinstance(metadata, dict) else None
    return status if isinstance(status, int) else 0


def is_transient(exc: BaseException) -> bool:
    """Throttled, a 5xx, timed out or cut off: the same request may well pass later."""
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    if isinstance(exc, (ConnectionError, HTTPClientError)):  # timeouts and dropped connections too
        return True
    if not isinstance(exc, ClientError):
        return False
    status = http_status(exc)
    return error_code(exc) in TRANSIENT_CODES or status >= 500 or status == 429


def is_permanent(exc: BaseException) -> bool:
    """Not found, access denied or invalid: every retry gets the same answer."""
    from botocore.exceptions import ClientError, ParamValidationError

    if isinstance(exc, ParamValidationError):  # refused by botocore before it was sent
        return True
    if not isinstance(exc, ClientError) or is_transient(exc):
        return False
    code = error_code(exc)
    return code in PERMANENT_CODES or code.endswith(PERMANENT_SUFFIXES) or code.startswith(PERMANENT_PREFIXES)


def describe_error(exc: BaseException) -> str:
    """`Operation: Code (message)` for a ClientError, for people; the exception's text otherwise."""
    code = error_code(exc)
    if not code:
        return f"{type(exc).__name__}: {exc}"[:300]
    operation = getattr(exc, "operation_name", "")
    message = str(exc.response["Error"].get("Message") or "")[:200]  # type: ignore[attr-defined]
    text = f"{operation}: {code}" if operation else code
    return f"{text} ({message})" if message else text
