"""tools.plan_diff: documents, the git worktree flow on a throwaway repo, the PR comment."""

import io
import re
import subprocess
import textwrap
from pathlib import Path

import pytest

from config.loader import stack_names
from tools import plan_diff
from tools.inventory import FORMAT
from tools.plan_diff import PlanResult, compare_dirs, render_stack, truncate_report, verdict


def write(directory: Path, name: str, text: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.json").write_text(text, encoding="utf-8")


# --- pure comparison ---------------------------------------------------------------------------


def test_identical_directories_report_nothing(tmp_path: Path) -> None:
    for side in ("base", "head"):
        write(tmp_path / side, "organization-backup-policy", '{\n  "a": 1\n}\n')
    changes = compare_dirs(tmp_path / "base", tmp_path / "head", "dev")
    assert changes == []
    assert verdict("dev", changes) == "dev: no policy document changed"


def test_changed_added_and_removed_documents(tmp_path: Path) -> None:
    write(tmp_path / "base", "destination-ap-southeast-2-key-policy", '{\n  "a": 1\n}\n')
    write(tmp_path / "base", "old-vault-policy", "{}\n")
    write(tmp_path / "head", "destination-ap-southeast-2-key-policy", '{\n  "a": 2\n}\n')
    write(tmp_path / "head", "organization-backup-policy", '{\n  "b": true\n}\n')
    (tmp_path / "head" / "table.txt").write_text("not a document", encoding="utf-8")

    changes = compare_dirs(tmp_path / "base", tmp_path / "head", "dev")

    assert [(c.name, c.status) for c in changes] == [
        ("destination-ap-southeast-2-key-policy", "changed"),
        ("old-vault-policy", "removed"),
        ("organization-backup-policy", "added"),
    ]
    assert verdict("dev", changes) == (
        "dev: 3 documents changed: destination-ap-southeast-2-key-policy, "
        "old-vault-policy (removed), organization-backup-policy (added)"
    )
    changed = changes[0].diff
    assert "--- base/dev/destination-ap-southeast-2-key-policy.json" in changed
    assert "+++ head/dev/destination-ap-southeast-2-key-policy.json" in changed
    assert '-  "a": 1\n' in changed
    assert '+  "a": 2\n' in changed
    assert "+++ /dev/null" in changes[1].diff
    assert "--- /dev/null" in changes[2].diff


def test_the_inventory_is_not_a_policy_document(tmp_path: Path) -> None:
    write(tmp_path / "head", "resources", '{"format": 1}\n')
    write(tmp_path / "head", "k", "{}\n")
    assert [c.name for c in compare_dirs(None, tmp_path / "head")] == ["k"]


def test_missing_base_directory_counts_as_empty(tmp_path: Path) -> None:
    write(tmp_path / "head", "k", "{}\n")
    changes = compare_dirs(None, tmp_path / "head", "prod")
    assert [(c.name, c.status) for c in changes] == [("k", "added")]
    assert verdict("prod", changes) == "prod: 1 document changed: k (added)"


def test_file_without_trailing_newline_still_renders_line_by_line(tmp_path: Path) -> None:
    write(tmp_path / "base", "k", "{}")
    write(tmp_path / "head", "k", "[]")
    [change] = compare_dirs(tmp_path / "base", tmp_path / "head")
    assert "-{}\n+[]\n" in change.diff


def test_render_stack_puts_verdict_notes_then_diffs(tmp_path: Path) -> None:
    write(tmp_path / "head", "k", "{}\n")
    text = render_stack("dev", compare_dirs(None, tmp_path / "head", "dev"), ["base is empty"])
    lines = text.splitlines()
    assert lines[0] == "dev: 1 document changed: k (added)"
    assert lines[1] == "  note: base is empty"
    assert "+{}" in lines


def test_an_inventory_of_another_format_falls_back_to_the_documents(tmp_path: Path) -> None:
    write(tmp_path / "base", "resources", '{"format": 0, "resources": {}}\n')
    write(tmp_path / "head", "resources", f'{{"format": {FORMAT}, "resources": {{}}}}\n')
    write(tmp_path / "head", "k", "{}\n")

    text = plan_diff.compare_stack("dev", tmp_path / "base", tmp_path / "head")

    assert text.splitlines()[:2] == [
        "dev: 1 document changed: k (added)",
        "  note: base has resources.json format 0, not 1 or 2: comparing policy documents only",
    ]


def test_an_empty_side_is_an_empty_inventory(tmp_path: Path) -> None:
    write(tmp_path / "base", "resources", f'{{"format": {FORMAT}, "resources": {{}}}}\n')
    assert plan_diff.compare_stack("dev", tmp_path / "base", None) == (
        "dev: no resource changed, added or removed\n"
    )


def test_stack_names_are_read_from_stack_files(tmp_path: Path) -> None:
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml", "other.yaml"):
        (tmp_path / name).write_text("", encoding="utf-8")
    assert stack_names(tmp_path) == ["dev", "prod"]


# --- worktree flow with a fake tools/plan.py ----------------------------------------------------

# Writes one document per line of policy.txt, named after the stack, so each commit of the
# throwaway repo plans to something predictable; exits 3 when the stack file says "broken".
# Like the real plan it also writes an inventory of one resource per document, unless the
# checkout lacks the file `inventory`: a commit from before resources.json.
FAKE_PLAN = textwrap.dedent(
    """
    import argparse, json, pathlib, sys
    parser = argparse.ArgumentParser()
    parser.add_argument("--stack", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    if "broken" in pathlib.Path(f"Pulumi.{args.stack}.yaml").read_text():
        print("bad config", file=sys.stderr)
        sys.exit(3)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    resources = {}
    for line in pathlib.Path("policy.txt").read_text().splitlines():
        name, value = line.split("=")
        doc = {"stack": args.stack, "value": value}
        (out / f"{name}.json").write_text(json.dumps(doc, indent=2, sort_keys=True) + "\\n")
        resources[f"test:index:Doc::{name}"] = {
            "type": "test:index:Doc", "name": name, "parent": None, "account": "111111111111",
            "region": "ap-southeast-2", "custom": True, "documents": ["policy"],
            "inputs": {"policy": doc},
        }
    if pathlib.Path("inventory").exists():
        inventory = {"format": FORMAT, "stack": args.stack, "resources": resources}
        (out / "resources.json").write_text(json.dumps(inventory))
    print("table")
    """
).replace("FORMAT", str(FORMAT))


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "tools").mkdir(parents=True)
    git(root, "init", "--quiet", "--initial-branch=main")
    git(root, "config", "user.email", "t@example.invalid")
    git(root, "config", "user.name", "t")
    git(root, "config", "commit.gpgsign", "false")
    (root / "tools" / "__init__.py").write_text("", encoding="utf-8")
    (root / "tools" / "plan.py").write_text(FAKE_PLAN, encoding="utf-8")
    (root / "Pulumi.dev.yaml").write_text("config: {}\n", encoding="utf-8")
    (root / "policy.txt").write_text("key-policy=1\nvault-policy=1\n", encoding="utf-8")
    (root / "inventory").write_text("", encoding="utf-8")
    git(root, "add", ".")
    git(root, "commit", "--quiet", "-m", "base")
    return root


def run(repo: Path, base: str) -> tuple[int, str]:
    out = io.StringIO()
    code = plan_diff.plan_diff(repo, base, out=out)
    return code, out.getvalue()


def worktrees(repo: Path) -> list[str]:
    return [
        line
        for line in git(repo, "worktree", "list", "--porcelain").splitlines()
        if line.startswith("worktree ")
    ]


def test_no_change_against_head(repo: Path) -> None:
    code, text = run(repo, "HEAD")
    assert code == 0
    assert text.strip() == "dev: no resource changed, added or removed"
    assert len(worktrees(repo)) == 1


def test_working_tree_changes_and_new_stack(repo: Path) -> None:
    (repo / "policy.txt").write_text("key-policy=2\nvault-policy=1\nbackup=1\n", encoding="utf-8")
    (repo / "Pulumi.prod.yaml").write_text("config: {}\n", encoding="utf-8")

    code, text = run(repo, "main")

    assert code == 0
    lines = text.splitlines()
    assert "dev: 1 resource changed, 1 added, 0 removed" in lines
    assert "+ backup (test:index:Doc, 111111111111 ap-southeast-2)" in lines
    assert "~ key-policy (test:index:Doc, 111111111111 ap-southeast-2)" in lines
    assert '-  "value": "1"' in lines
    assert '+  "value": "2"' in lines
    assert "prod: 0 resources changed, 3 added, 0 removed" in lines
    assert "  note: base has no Pulumi.prod.yaml; treating base as empty" in lines
    # Each document change is reported once, in its resource, not again as a document.
    assert "document" not in text
    dev = text[: text.index("prod:")].splitlines()
    assert dev.count('+  "value": "2"') == 1
    assert len(worktrees(repo)) == 1


def test_base_that_predates_the_inventory_gets_the_document_report(repo: Path) -> None:
    git(repo, "rm", "--quiet", "inventory")
    git(repo, "commit", "--quiet", "-m", "before resources.json")
    old = git(repo, "rev-parse", "HEAD")
    (repo / "inventory").write_text("", encoding="utf-8")
    (repo / "policy.txt").write_text("key-policy=2\nvault-policy=1\n", encoding="utf-8")

    code, text = run(repo, old)

    assert code == 0
    lines = text.splitlines()
    assert lines[:2] == [
        "dev: 1 document changed: key-policy",
        "  note: base has no resources.json: comparing policy documents only",
    ]
    assert "+++ head/dev/key-policy.json" in lines
    assert not any(line.startswith("~ ") for line in lines)


def test_base_without_plan_tool_is_empty(repo: Path) -> None:
    first = git(repo, "rev-parse", "HEAD")
    git(repo, "rm", "--quiet", "tools/plan.py")
    git(repo, "commit", "--quiet", "-m", "drop plan")
    base = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "--quiet", first, "--", "tools/plan.py")

    code, text = run(repo, base)

    assert code == 0
    assert "dev: 0 resources changed, 2 added, 0 removed" in text
    assert "note: base has no tools/plan.py; treating base as empty" in text


def test_failing_base_plan_is_reported_not_fatal(repo: Path) -> None:
    (repo / "Pulumi.dev.yaml").write_text("broken\n", encoding="utf-8")
    git(repo, "commit", "--quiet", "-am", "break dev")
    broken = git(repo, "rev-parse", "HEAD")
    (repo / "Pulumi.dev.yaml").write_text("config: {}\n", encoding="utf-8")

    code, text = run(repo, broken)

    assert code == 0
    assert "plan failed on base (exit 3: bad config)" in text


def test_failing_head_plan_exits_non_zero(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "Pulumi.dev.yaml").write_text("broken\n", encoding="utf-8")
    code, text = run(repo, "HEAD")
    assert code == 1
    assert "dev:" not in text
    assert "bad config" in capsys.readouterr().err
    assert len(worktrees(repo)) == 1


def test_unknown_base_exits_2_and_leaves_no_worktree(repo: Path) -> None:
    code, _ = run(repo, "no-such-rev")
    assert code == 2
    assert len(worktrees(repo)) == 1


def test_worktree_removed_when_runner_raises(repo: Path) -> None:
    def boom(cwd: Path, stack: str, out: Path) -> PlanResult:
        raise RuntimeError("runner broke")

    with pytest.raises(RuntimeError):
        plan_diff.plan_diff(repo, "HEAD", runner=boom, out=io.StringIO())
    assert len(worktrees(repo)) == 1


def test_injected_runner_sees_base_then_head(repo: Path) -> None:
    calls: list[tuple[bool, str]] = []

    def fake(cwd: Path, stack: str, out: Path) -> PlanResult:
        calls.append((cwd == repo, stack))
        out.mkdir(parents=True, exist_ok=True)
        (out / "doc.json").write_text("head\n" if cwd == repo else "base\n", encoding="utf-8")
        return PlanResult(0, "")

    out = io.StringIO()
    assert plan_diff.plan_diff(repo, "HEAD", runner=fake, out=out) == 0
    assert calls == [(False, "dev"), (True, "dev")]
    assert out.getvalue().startswith("dev: 1 document changed: doc\n")


def test_main_resolves_repo_root(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "sub").mkdir()
    assert plan_diff.main(["--base", "HEAD", "--repo", str(repo / "sub")]) == 0
    assert "dev: no resource changed, added or removed" in capsys.readouterr().out


# --- the pull-request comment -------------------------------------------------------------------

NOTICE = re.compile(
    r"\[plan-diff: this report is truncated: ([\d,]+) of ([\d,]+) characters \(([\d,]+) lines\)"
    r" are not shown; the full report is in (.+)\]\n\n"
)
END = "[... report truncated here]\n"


def test_a_report_that_fits_is_left_alone() -> None:
    report = "dev: no resource changed, added or removed\n"
    assert truncate_report(report, len(report)) == report


@pytest.mark.parametrize("limit", [400, 401, 450, 1000, 4999])
def test_a_long_report_is_cut_at_a_line_end_and_says_how_much_is_missing(limit: int) -> None:
    report = "".join(f"    line {i:04d}: {'x' * (i % 37)}\n" for i in range(200))

    comment = truncate_report(report, limit, "the job summary")

    assert len(comment) <= limit
    notice = NOTICE.match(comment)
    assert notice is not None
    kept = comment[notice.end() : -len(END)]
    assert comment.endswith(END)
    assert report.startswith(kept) and kept.endswith("\n") and kept
    cut = report[len(kept) :]
    assert notice.groups() == (
        f"{len(cut):,}",
        f"{len(report):,}",
        f"{cut.count(chr(10)):,}",
        "the job summary",
    )


def test_a_single_huge_line_is_cut_inside_the_line() -> None:
    comment = truncate_report("x" * 10_000, 1_000)
    notice = NOTICE.match(comment)
    assert notice is not None and len(comment) <= 1_000
    assert notice.group(3) == "1"


def test_a_limit_without_room_for_the_notice_is_an_error() -> None:
    with pytest.raises(ValueError, match="no room"):
        truncate_report("x\n" * 1_000, 100)


def test_comment_command_prints_the_cut_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "plan-diff.txt"
    saved.write_text("a line\n" * 10_000, encoding="utf-8")

    assert plan_diff.main(["--comment", str(saved), "--limit", "60000"]) == 0

    out = capsys.readouterr().out
    assert len(out) <= 60_000
    assert out.startswith("[plan-diff: this report is truncated: ")
    assert "the plan-diff artifact of this workflow run" in out.splitlines()[0]


# --- the filter ---------------------------------------------------------------------------------


def test_the_report_can_be_limited_to_some_stacks(repo: Path) -> None:
    (repo / "Pulumi.prod.yaml").write_text("config: {}\n", encoding="utf-8")
    out = io.StringIO()

    assert plan_diff.plan_diff(repo, "main", out=out, only=["prod"]) == 0

    assert out.getvalue().startswith("prod: ")
    assert "dev:" not in out.getvalue()


def test_an_unknown_stack_in_the_filter_is_named_with_the_stacks_there_are(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STACKS", "dve")

    assert plan_diff.main(["--base", "HEAD", "--repo", str(repo)]) == 2

    assert capsys.readouterr().err == (
        "plan-diff: 'dve' is not a known stack; did you mean 'dev'? (known: dev)\n"
    )


def test_a_new_stack_is_summarized_unless_full_is_asked(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo / "Pulumi.prod.yaml").write_text("config: {}\n", encoding="utf-8")
    monkeypatch.delenv("FULL", raising=False)
    monkeypatch.delenv("STACKS", raising=False)

    assert plan_diff.main(["--base", "HEAD", "--repo", str(repo), "--stacks", "prod"]) == 0
    summary = capsys.readouterr().out.splitlines()
    monkeypatch.setenv("FULL", "1")
    assert plan_diff.main(["--base", "HEAD", "--repo", str(repo), "--stacks", "prod"]) == 0
    full = capsys.readouterr().out.splitlines()

    header = "+ key-policy (test:index:Doc, 111111111111 ap-southeast-2)"
    assert summary[0] == full[0] == "prod: 0 resources changed, 2 added, 0 removed"
    assert "    2 test:index:Doc" in summary and header not in summary
    assert header in full
