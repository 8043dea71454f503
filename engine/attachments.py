"""Documents' files, Precoro -> QuickBooks (D8, "Attachments"): which files a document carries, and
sending each of them once, after the document exists in QuickBooks.

Planning (pure): where a document's rules say `attachments: true`, its create lists the files of its
Precoro details in `Action.follow_up.attachments`; a file of a type QuickBooks refuses is listed
with the reason it is skipped. Applying: the create's outcome keeps the list in the state file
(`Store.keep_attachments`, in the transaction of the document's link, so a crash cannot lose it),
and `send_pending` works it off: each file is read from Precoro and uploaded (`/upload`, attached
to the new Bill, PurchaseOrder or VendorCredit) under a request id of its own, so a resend after a
lost answer is the same upload, answered once. Whatever happens to a file is said in the apply
report and never fails its document: a refused type is skipped, a refusal is recorded as failed
(not tried again), no answer or a limit leaves it pending for the next apply.
"""

from __future__ import annotations

import mimetypes
import uuid
from pathlib import PurePosixPath
from typing import Any, Callable, Mapping

from .clients import precoro_contract as contract
from .clients.errors import ApiError, RateLimited, ServerError
from .plan import FieldChange

# Files QuickBooks does not take as attachments: Precoro's own integration drops .zip and .heic
# attachments for this reason (FAQ item 27). Its other limits are not in our reference.
QUICKBOOKS_REFUSES = frozenset({".zip", ".heic"})


def planned(rules: Any, doc: Mapping[str, Any]) -> list[dict[str, str]]:
    """The files a document's create carries (none unless its rules ask for them)."""
    if not getattr(rules, "attachments", False):
        return []
    files = doc.get(contract.ATTACHMENTS) or []
    if isinstance(files, Mapping):  # Precoro's {"data": [...]} wrapper
        files = files.get("data") or []
    out = []
    for file in files:
        name = str(file.get(contract.ATTACHMENT_NAME) or f"attachment {file.get('id')}")
        entry = {"id": str(file["id"]), "name": name,
                 "content_type": str(file.get(contract.ATTACHMENT_TYPE) or mimetypes.guess_type(name)[0]
                                     or "application/octet-stream")}
        suffix = PurePosixPath(name.lower()).suffix
        if suffix in QUICKBOOKS_REFUSES:
            entry["skip"] = f"QuickBooks does not take {suffix} files as attachments"
        out.append(entry)
    return out


def shown(files: list[dict[str, str]]) -> FieldChange:
    """How the plan shows a document's files."""
    names = [f"{f['name']} (skipped: {f['skip']})" if f.get("skip") else f["name"] for f in files]
    return FieldChange("attachments", after="; ".join(names), note=f"{len(files)} file(s), sent after the document")


# A document found in QuickBooks instead of created (D3: sent before, by a lost state file or another
# install) may carry its files already, and qbsync does not look for them there: they are not sent
# again, so that no file is ever attached twice.
ADOPTED = "its document was in QuickBooks already (sent before): its files are not sent again, never to attach them twice"


def to_keep(realm: str, section: str, precoro_id: str, document: str, quickbooks: tuple[str, str],
            files: list[dict[str, str]], *, adopted: bool = False) -> list[dict[str, Any]]:
    """The state file's rows for the files of a document just created as `quickbooks` (entity, Id),
    or found there (`adopted`)."""
    return [{"realm": realm, "section": section, "precoro_id": precoro_id, "attachment_id": f["id"],
             "document": document, "quickbooks_entity": quickbooks[0], "quickbooks_id": quickbooks[1],
             "file_name": f["name"], "content_type": f["content_type"],
             "skip": f.get("skip") or (ADOPTED if adopted else None), "requestid": uuid.uuid4().hex} for f in files]


def send_pending(store: Any, realm: str, quickbooks: Any, precoro: Any, *, within_caps: Callable[[Callable], Any],
                 clock: Callable[[], str]) -> list[dict[str, str]]:
    """Send every file waiting in the state file; what became of each, for the apply report."""
    told = []
    for row in store.pending_attachments(realm):
        where = f"{row['document']}: {row['file_name']}"
        if row["skip"]:
            store.attachment_outcome(row, "skipped", row["skip"], clock())
            told.append({"file": where, "status": "skipped", "reason": row["skip"]})
            continue
        try:
            content, _ = within_caps(lambda: precoro.download(
                contract.ATTACHMENT_DOWNLOAD.format(id=row["attachment_id"])))
            attachable = quickbooks.upload(row["file_name"], row["content_type"], content,
                                           (row["quickbooks_entity"], row["quickbooks_id"]), requestid=row["requestid"])
        except ServerError as exc:
            # No answer: it may have gone through; the next apply sends it again under the same request id.
            told.append({"file": where, "status": "failed", "reason": f"{exc}; the next apply tries again"})
            continue
        except RateLimited:
            raise  # the apply stops at a limit it cannot wait out; this file waits for the next one
        except ApiError as exc:
            store.attachment_outcome(row, "failed", str(exc), clock())
            told.append({"file": where, "status": "failed", "reason": str(exc)})
            continue
        store.attachment_outcome(row, "done", "", clock(), str(attachable["Id"]))
        told.append({"file": where, "status": "uploaded", "reason": ""})
    return told
