"""The TUI's sign-off round trip: the plan under review written as CSV for a reviewer, and the signed
file read back (as `qbsync show --csv` and `qbsync approve --from FILE` do).

A mixin of the App. Both run in a thread worker under the engine lock, after the decisions made
here are saved, so the file holds them and a read-back follows them.
"""

from __future__ import annotations

from pathlib import Path

from textual import work

from engine.signoff import read_signoff_file

from .dialogs.signoff import SignOff
from .messages import SignedOff, SignOffFailed
from .render import plan_csv

# A notification names this many refused rows; `qbsync approve --from FILE` names every one.
SHOWN_REFUSED = 5


class Signing:
    """`o` in Review: write the plan for sign-off, or read a signed one back."""

    def action_sign_off(self) -> None:
        plan = self.plan
        if plan is None or self.session is None:
            self.notify("No plan to sign off yet.", severity="warning")
            return

        def chosen(answer: tuple[str, str] | None) -> None:
            if answer:
                self.busy = "writing the plan for sign-off…" if answer[0] == "write" else "reading the sign-off…"
                self._sign_off(plan.id, *answer)

        last = self.signoff_path.get(plan.id, f"plan-{plan.id}.csv")
        self.push_screen(SignOff(plan.id, last, exists=lambda path: bool(path) and self._signoff_file(path).is_file()),
                         chosen)

    def _signoff_file(self, path: str) -> Path:
        """A relative path is taken next to the rules file, where `qbsync` commands are run."""
        return self.rules_path.parent / Path(path).expanduser()

    @work(thread=True, exclusive=True, group="signoff", exit_on_error=False)
    def _sign_off(self, plan_id: str, what: str, path: str) -> None:
        try:
            with self._engine:
                self._write_pending()
                if what == "write":
                    result = self._write_plan(plan_id, path)
                else:
                    result = self.session.sign_off(read_signoff_file(self._signoff_file(path)), plan_id)
                    if self.plan is not None and self.plan.id == plan_id:  # this terminal's change, not another's
                        self.plan_seen = self.session.plan_revision(plan_id)
        except Exception as exc:
            self.post_message(SignOffFailed(what, exc))
            return
        self.post_message(SignedOff(plan_id, what, path, result))

    def _write_plan(self, plan_id: str, path: str) -> int:
        """The plan's CSV at `path`, never over a file there already (it may be the signed one); a
        file cut short by an error is not left behind to be signed."""
        target = self._signoff_file(path)
        with target.open("x", newline="", encoding="utf-8") as out:
            try:
                return plan_csv(plan_id, self.session.actions_of(plan_id), out)
            except BaseException:
                target.unlink(missing_ok=True)
                raise

    def on_signed_off(self, message: SignedOff) -> None:
        self.busy = ""
        self.signoff_path[message.plan_id] = message.path
        if message.what == "write":
            self.notify(f"Wrote {message.result:,} rows to {self._signoff_file(message.path)}. Once it is signed "
                        "off, o reads it back.", timeout=8)
            return
        done = message.result
        refused = "".join(f"\n{message.path}:{r.line}: {r.reason}" for r in done.refused[:SHOWN_REFUSED])
        more = f"\n… and {len(done.refused) - SHOWN_REFUSED} more" if len(done.refused) > SHOWN_REFUSED else ""
        self.notify(f"Signed off plan {done.plan_id} from {message.path}: {done.note}.{refused}{more}",
                    severity="warning" if done.refused else "information", timeout=15)
        self.load_plan(fresh=False, plan_id=done.plan_id)  # as signed off: its approvals, decisions and note

    def on_sign_off_failed(self, message: SignOffFailed) -> None:
        self.busy = ""
        error = message.error
        if isinstance(error, FileExistsError):
            said = f"{error.filename} exists already: read it back, or name another file"
        elif isinstance(error, FileNotFoundError):  # writing into a folder that is not there
            said = f"{Path(error.filename).parent}: no such folder"
        elif isinstance(error, OSError):
            said = f"{error.filename}: {error.strerror}"
        else:  # engine.tables.TableError (FILE:LINE:COL: what was expected), a plan refused, ...
            said = str(error)
        self.notify(f"Nothing was {'written' if message.what == 'write' else 'recorded'}: {said}",
                    severity="error", timeout=12)
