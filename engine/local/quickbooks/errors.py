"""QuickBooks Fault errors raised by the local server, with the real codes, messages and envelope.

Texts follow the fact sheet (`reference/quickbooks-api.md` §1) and the captured payloads. Where the
public material gives a code but no text (length limits, invalid characters), the wording comes from
third-party reports of real responses; where it gives neither it is our convention, marked so.
"""

from __future__ import annotations

INACTIVE_DETAIL = (
    "Something you're trying to use has been made inactive. "
    "Check the fields with accounts, customers, items, vendors or employees."
)
# The real Detail names the user who saved first; the local company has one made-up user.
LOCAL_USER = "Local Admin"


class QboError(Exception):
    """One QuickBooks Fault: `status` is the HTTP status the real API answers it with."""

    def __init__(
        self,
        code: str,
        message: str,
        detail: str,
        *,
        element: str | None = None,
        status: int = 400,
        fault_type: str = "ValidationFault",
    ) -> None:
        super().__init__(f"{code} {message}: {detail}")
        self.code = code
        self.message = message
        self.detail = detail
        self.element = element
        self.status = status
        self.fault_type = fault_type

    def fault(self) -> dict:
        """The `Fault` object as it appears in a response or in a batch item."""
        error = {"Message": self.message, "Detail": self.detail, "code": self.code}
        if self.element is not None:
            error["element"] = self.element
        return {"Error": [error], "type": self.fault_type}


def not_found() -> QboError:
    return QboError("610", "Object Not Found", f"Object Not Found : {INACTIVE_DETAIL}", element="")


def stale_object() -> QboError:
    return QboError(
        "5010",
        "Stale Object Error",
        f"Stale Object Error : You and {LOCAL_USER} were working on this at the same time. "
        f"{LOCAL_USER} finished before you did, so your work was not saved.",
        element="",
    )


def duplicate_name(kind: str) -> QboError:
    return QboError(
        "6240",
        "Duplicate Name Exists Error",
        f"The name supplied already exists. : Another {kind} is already using this \nname. "
        "Please use a different name.",
    )


def unknown_property(name: str, entity: str) -> QboError:
    return QboError(
        "2010",
        "Request has invalid or unsupported property",
        f'Property Name:Unrecognized field "{name}" (class com.intuit.schema.finance.v3.{entity}), '
        "not marked as ignorable specified is unsupported or invalid",
    )


def unreadable_body(reason: str) -> QboError:
    return QboError(
        "2010",
        "Request has invalid or unsupported property",
        f"Property Name:{reason} specified is unsupported or invalid",
    )


def required_missing(element: str) -> QboError:
    return QboError(
        "2020",
        "Required param missing, need to supply the required value for the API",
        f"Required parameter {element} is missing in the request",
        element=element,
    )


def invalid_id(value: object) -> QboError:
    return QboError("2030", "Invalid ID", f"Id should be a valid number. Supplied value:{value}", element="Id")


def too_long(element: str, limit: int, length: int) -> QboError:
    return QboError(
        "2050",
        "String length is either shorter or longer than supported by specification",
        f"String length specified does not match the supported length. Min:0 Max:{limit} supported. "
        f"Supplied length:{length}",
        element=element,
    )


def invalid_characters(element: str) -> QboError:
    return QboError(
        "2040",
        "Invalid String. The String may contain unsupported or illegal chars",
        "Element contains invalid characters.",
        element=element,
    )


def invalid_email(element: str) -> QboError:
    return QboError(
        "2210",
        "Email Address does not conform to the syntax rules of RFC 822",
        "Email Address does not conform to the syntax rules of RFC 822.",
        element=element,
    )


def invalid_enumeration(element: str, value: object) -> QboError:
    return QboError("2170", "Invalid Enumeration", f"Invalid Enumeration : {value}", element=element)


def invalid_reference(element: str) -> QboError:
    return QboError("2500", "Invalid Reference Id", f"Invalid Reference Id : {element} does not exist", element=element)


def inactive_reference(element: str) -> QboError:
    return QboError("610", "Object Not Found", f"Object Not Found : {INACTIVE_DETAIL}", element=element)


def business_rule(detail: str, element: str | None = None) -> QboError:
    return QboError(
        "6000",
        "A business validation error has occurred while processing your request",
        f"Business Validation Error: {detail}",
        element=element,
    )


def unsupported_operation(detail: str) -> QboError:
    return QboError("500", "Unsupported Operation", detail)


def query_parser_error(detail: str) -> QboError:
    return QboError("4000", "Error parsing query", f"QueryParserError: {detail}")


def query_validation_error(detail: str) -> QboError:
    return QboError("4001", "Invalid query", f"QueryValidationError: {detail}")


def batch_too_large(limit: int) -> QboError:
    # 1040 per Intuit's error-code list as reported by integrators; exact text is our convention.
    return QboError("1040", "Batch size exceeds allowed limit", f"The batch size exceeds the limit of {limit}.")
