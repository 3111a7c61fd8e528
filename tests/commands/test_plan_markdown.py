"""`reconciler plan --markdown` through the real console script: what a reviewer sees
in the pull-request comment (summary, estimate, table, folded script diffs, caps)."""

from __future__ import annotations

from tests.commands.helpers import record_all_finished, run


def test_markdown_on_a_new_project_has_summary_estimate_and_table(project):
    result = run(project, "plan", "--markdown")
    assert result.returncode == 0, result.stderr
    md = result.stdout
    assert md.startswith("### reconciler plan\n")
    assert "**Plan: 3 to create, 0 to replace, 0 to update, 0 to delete, 0 unchanged.**" in md
    assert "| renders | 3 |" in md
    assert "| TTS characters |" in md
    assert "| `+` create | `launch/intro` | xingyun | new video | specs/launch.yaml |" in md
    assert not (project / "state" / "reconciler.db").exists()


def test_markdown_folds_a_script_diff_and_groups_unchanged_videos(project):
    record_all_finished(project)
    faq = project / "specs" / "faq.yaml"
    faq.write_text(faq.read_text(encoding="utf-8").replace("请您再说一遍", "请您再讲一遍"), encoding="utf-8")
    md = run(project, "plan", "--markdown").stdout
    assert "| `-/+` replace | `faq/q2` |" in md
    assert "2 unchanged videos not listed." in md
    assert "faq/q1" not in md and "launch/intro" not in md
    assert "<details>\n<summary>script diff: <code>faq/q2</code></summary>" in md
    assert "```diff\n- 请您再说一遍<mute>300</mute>或说取消。\n+ 请您再讲一遍<mute>300</mute>或说取消。\n```" in md


def test_markdown_of_a_long_script_change_is_capped_and_says_so(project):
    record_all_finished(project, only={"faq/q1"})
    faq = project / "specs" / "faq.yaml"
    text = faq.read_text(encoding="utf-8")
    old = "云知声专注于物联网人工智能服务,这是第<value>110</value>会议室。"
    faq.write_text(text.replace(old, '"' + "\\n".join(f"line {i}" for i in range(100)) + '"'), encoding="utf-8")
    md = run(project, "plan", "--markdown").stdout
    assert "| `-/+` replace | `faq/q1` |" in md
    assert "more changed lines)" in md  # the diff was cut, and says by how much
    diff = md.split("```diff\n", 1)[1].split("\n```", 1)[0]
    assert len(diff.splitlines()) <= 41


def test_markdown_and_json_together_are_refused(project):
    result = run(project, "plan", "--markdown", "--json")
    assert result.returncode != 0
    assert "give one" in result.stderr

