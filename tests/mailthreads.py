"""Small real patch threads for tests: a git repo, `git format-patch`, and replies.

The postings are what git format-patch writes; the replies are mails as a
reviewer's mailer writes them (quoting with "> ", In-Reply-To/References),
so the whole chain (b4, assembly, comment extraction) runs on them as on
list mail.
"""
from __future__ import annotations

import subprocess
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from datetime import datetime, timezone
from pathlib import Path

AUTHOR = "Alice Author <alice@example.org>"
REVIEWER = "Rita Reviewer <rita@example.org>"


class Repo:
    """A throw-away git repo whose commits become patch postings."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True)
        self.git("init", "-q", "-b", "main")
        self.git("config", "user.name", "Alice Author")
        self.git("config", "user.email", "alice@example.org")

    def git(self, *args: str, date: str = "2021-07-01T10:00:00+00:00") -> str:
        env = {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(self.path),
               "PATH": "/usr/bin:/bin", "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
        return subprocess.run(["git", "-C", str(self.path), *args], check=True, capture_output=True,
                              text=True, env=env).stdout

    def commit(self, files: dict[str, str], message: str, date: str = "2021-07-01T10:00:00+00:00") -> None:
        for name, text in files.items():
            (self.path / name).write_text(text)
            self.git("add", name)
        self.git("commit", "-qm", message, date=date)

    def post(self, out: Path, base: str, *, version: int = 1, subject: str, date: str,
             changelog: str = "") -> list[str]:
        """The mails git format-patch writes for base..HEAD, with a cover letter; mbox texts in order."""
        args = ["format-patch", "-q", "--cover-letter", "--thread", "-o", str(out), f"{base}..HEAD"]
        if version > 1:
            args.insert(1, f"-v{version}")
        self.git(*args, date=date)
        # git names the mails after the current second: make each posting's Message-IDs its own
        tag = f".v{version}-{date[:10]}.git."
        mails = [p.read_text().replace(".git.", tag) for p in sorted(out.glob("*.patch"))]
        cover = mails[0].replace("*** SUBJECT HERE ***", subject)
        cover = cover.replace("*** BLURB HERE ***", f"{subject}.\n\n{changelog}".rstrip())
        return [cover, *mails[1:]]


def msgid_of(mail: str) -> str:
    for line in mail.splitlines():
        if line.lower().startswith("message-id:"):
            return line.split(":", 1)[1].strip().strip("<>")
    raise ValueError("no Message-ID")


def subject_of(mail: str) -> str:
    for line in mail.splitlines():
        if line.lower().startswith("subject:"):
            return line.split(":", 1)[1].strip()
    raise ValueError("no Subject")


def reply(to: str, who: str, body: str, when: str) -> str:
    """A reply to the mail text `to`, as an mbox entry."""
    msg = EmailMessage()
    msg["From"] = who
    msg["To"] = "linux-mm@kvack.org"
    msg["Subject"] = "Re: " + subject_of(to)
    msg["Date"] = format_datetime(datetime.fromisoformat(when).astimezone(timezone.utc))
    msg["Message-ID"] = make_msgid(domain=who.split("@")[1].rstrip(">"))
    msg["In-Reply-To"] = f"<{msgid_of(to)}>"
    msg["References"] = f"<{msgid_of(to)}>"
    msg.set_content(body)
    return f"From reviewer@example.org Thu Jan  1 00:00:00 1970\n{msg.as_string()}"


def mbox(mails: list[str], path: Path) -> Path:
    """Write the mails as one mbox: each format-patch mail already starts with a From line."""
    path.write_text("\n".join(m if m.endswith("\n") else m + "\n" for m in mails))
    return path
