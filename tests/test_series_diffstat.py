"""Cover diffstat parsing and the comparison rule, on small inputs (the real covers are
checked in test_series_assemble.py)."""
from __future__ import annotations

from series.diffstat import check, parse_diffstat
from series.model import FileChange, Patch


def _patch(counter: int, *files: tuple[str, int, int]) -> Patch:
    return Patch(counter=counter, expected=3, revision=1, msgid=f"{counter}@x", subject="s", author="a",
                 date="", commit_message="", diff="", git_patch_id="", trailers=[], followup_trailers=[],
                 mbox="", files=[FileChange(path=p, old_path=p, status="modified", added=a, removed=r,
                                            is_binary=False) for p, a, r in files])


COVER = """Hello,

 Documentation/admin-guide/mm/very/long/name.rst |  4 ++--
 .../arch/x86/mm/deep/inside/file.c               | 10 ++++++++++
 mm/{old.c => new.c}                              |  2 +-
 3 files changed, 13 insertions(+), 3 deletions(-)

Thanks
"""


def test_parse() -> None:
    entries, summary = parse_diffstat(COVER)
    assert [(e.path, e.changes) for e in entries] == [
        ("Documentation/admin-guide/mm/very/long/name.rst", 4),
        (".../arch/x86/mm/deep/inside/file.c", 10), ("mm/{old.c => new.c}", 2)]
    assert summary == "3 files changed, 13 insertions(+), 3 deletions(-)"
    assert parse_diffstat("no stat here\n---\n") == ([], "")


def test_complete_series_matches_shortened_and_renamed_paths() -> None:
    entries, summary = parse_diffstat(COVER)
    patches = [_patch(1, ("Documentation/admin-guide/mm/very/long/name.rst", 3, 3)),
               _patch(2, ("tools/arch/x86/mm/deep/inside/file.c", 10, 0), ("mm/new.c", 1, 1))]
    result = check(entries, summary, patches, missing=[])
    assert result.consistent and result.only_in_cover == [] and result.more_in_cover == []
    assert (result.cover_files, result.present_files) == (3, 3)


def test_missing_patch_explains_files_only_in_cover() -> None:
    entries, summary = parse_diffstat(COVER)
    patches = [_patch(1, ("Documentation/admin-guide/mm/very/long/name.rst", 1, 1))]
    result = check(entries, summary, patches, missing=[2])
    assert result.only_in_cover == [".../arch/x86/mm/deep/inside/file.c", "mm/{old.c => new.c}"]
    assert [e.path for e in result.more_in_cover] == ["Documentation/admin-guide/mm/very/long/name.rst"]
    assert result.consistent and "missing patch(es) 2" in result.explanation
    unexplained = check(entries, summary, patches, missing=[])
    assert not unexplained.consistent and "no patch is missing" in unexplained.explanation


def test_file_absent_from_cover_is_inconsistent() -> None:
    entries, summary = parse_diffstat(COVER)
    result = check(entries, summary, [_patch(1, ("kernel/fork.c", 1, 0))], missing=[2, 3])
    assert result.only_in_patches == ["kernel/fork.c"] and not result.consistent
