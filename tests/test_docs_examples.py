"""The code blocks that the README and the guides in docs/ show run.

Each guide's examples continue the README's, so each guide runs in a fresh
namespace holding what the README's ``python`` blocks left, then its own
``python`` blocks in order; ``bash`` and ``console`` blocks whose commands
are all ``fastbp ...`` run through the console script's entry point
(``fastbp.cli.main``) in the same temporary directory. A block that cannot
run here (it needs a GPU, a cluster, an install) has a marker line right
before it in the markdown::

    <!-- docs-test: skip (needs a CUDA GPU) -->

and the reason is required. Every page with code blocks must keep at least
one that runs, so that excluding everything cannot pass. The README's
example runs once, in its own test; each guide starts from a deep copy of
what it left, which is what a fresh run would give (its fits are seeded)
and saves the suite's time.
"""

import contextlib
import copy
import io
import os
import re
import shlex
import sys
import traceback
import types
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
# The performance log is a record, not a guide: its commands are measurements.
GUIDES = sorted(p for p in (ROOT / "docs").glob("*.md") if p.name != "performance-log.md")
# Guides that show no code at all; a guide that starts to must be run here.
NO_CODE = {"architecture.md", "performance.md", "supported.md"}

# A fence may be indented (a block inside a list item): its lines are
# dedented by the fence's indent.
_FENCE = re.compile(r"^( *)```(\S*)\s*$")
_MARKER = re.compile(r"^<!--\s*docs-test:(.*?)-->\s*$")
_SKIP = re.compile(r"^\s*skip\s*\((.*)\)\s*$")
_SHELL = {"bash", "console", "sh", "shell"}
_LANGUAGES = _SHELL | {"python", "text", ""}


@dataclass
class Block:
    page: Path
    line: int        # of the first line of code, 1-based
    language: str
    source: str
    skip: str | None  # the marker's reason

    def where(self):
        page = self.page.relative_to(ROOT) if self.page.is_relative_to(ROOT) else self.page.name
        return f"{page}:{self.line}"


def parse(page):
    """The fenced code blocks of ``page``, in order (a list of Block)."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks, i, pending = [], 0, None
    while i < len(lines):
        line = lines[i]
        marker = _MARKER.match(line.strip())
        if marker:
            skip = _SKIP.match(marker.group(1))
            assert skip and skip.group(1).strip(), (
                f"{page.name}:{i + 1}: a docs-test marker must read "
                f"'<!-- docs-test: skip (the reason) -->', got {line.strip()!r}")
            assert pending is None, f"{page.name}:{i + 1}: two markers in a row"
            pending = (i + 1, skip.group(1).strip())
            i += 1
            continue
        fence = _FENCE.match(line)
        if fence is None:
            assert pending is None or not line.strip(), (
                f"{page.name}:{pending[0]}: the marker is not right before a code block")
            i += 1
            continue
        indent, language = fence.groups()
        assert language in _LANGUAGES, f"{page.name}:{i + 1}: unknown block language {language!r}"
        end = i + 1
        while end < len(lines) and not lines[end].startswith(indent + "```"):
            end += 1
        assert end < len(lines), f"{page.name}:{i + 1}: the code block is never closed"
        body = [line[len(indent):] if line.startswith(indent) else line.lstrip()
                for line in lines[i + 1:end]]
        blocks.append(Block(page, i + 2, language, "\n".join(body) + "\n",
                            pending and pending[1]))
        pending, i = None, end + 1
    assert pending is None, f"{page.name}:{pending[0]}: the marker is not right before a code block"
    return blocks


def shell_commands(block):
    """The commands of a bash/console block, each as a list of words.

    Comments and line continuations are read as a shell does; in a console
    block only the lines that start with ``$`` are commands (the rest is
    output).
    """
    text = block.source
    if block.language == "console":
        text = "\n".join(line[1:] for line in text.splitlines() if line.startswith("$"))
    commands = []
    for line in text.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        if words:
            commands.append(words)
    return commands


def runnable(block):
    """Whether the test runs ``block`` (and so must, unless it is marked)."""
    if block.language == "python":
        return True
    if block.language in _SHELL:
        commands = shell_commands(block)
        return bool(commands) and all(words[0] == "fastbp" for words in commands)
    return False


def _missing_requirement(error):
    """Outside CI an example whose optional package is missing is skipped;
    under CI=true it fails, as every test whose requirement is missing."""
    name = getattr(error, "name", None) or ""
    if os.environ.get("CI") != "true" and name and not name.startswith("fastbp"):
        pytest.skip(f"{name} is not installed (pip install \".[test]\")")


def run_block(block, namespace):
    if block.language == "python":
        # Padded so that a traceback's line numbers are the page's.
        code = compile("\n" * (block.line - 1) + block.source, str(block.page), "exec")
        try:
            exec(code, namespace)
        except ModuleNotFoundError as error:
            _missing_requirement(error)
            pytest.fail(f"{block.where()}: {error!r}\n{traceback.format_exc()}")
        except Exception as error:  # noqa: BLE001 -- any error is the page's
            pytest.fail(f"{block.where()}: {error!r}\n{traceback.format_exc()}")
        return
    from fastbp.cli import main

    for words in shell_commands(block):
        # In this process, through the console script's own entry point: a
        # fresh `python -m fastbp` spends 8-10 s of CPU importing (skops
        # imports every scikit-learn estimator) before it starts, which six
        # commands cannot afford here; tests/test_cli.py runs the process.
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(words[1:])
        assert status == 0, (f"{block.where()}: {shlex.join(words)} exited {status}\n"
                             f"{out.getvalue()}\n{err.getvalue()}")


def run_page(blocks, namespace):
    """Run the runnable, unmarked ``blocks``; the number that ran."""
    ran = 0
    try:
        for block in blocks:
            # text blocks show output; other languages are not examples to run
            if block.skip is None and block.language in _SHELL | {"python"}:
                assert runnable(block), (
                    f"{block.where()}: the test cannot run this {block.language} block "
                    "(only python blocks and fastbp commands run); mark it "
                    "'<!-- docs-test: skip (reason) -->' or make it runnable")
                run_block(block, namespace)
                ran += 1
    finally:
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close("all")
    return ran


def assert_something_runs(page, blocks):
    assert any(b.skip is None and runnable(b) for b in blocks), (
        f"{page}: every block is excluded; keep at least one that runs")


def _python(blocks):
    return [b for b in blocks if b.language == "python"]


# Files a guide says the reader brings, written before its examples run.

def _customers(path, rows, seed):
    # The cli guide's customers.csv: a churn label beside three features.
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 72, rows)
    monthly = rng.uniform(20, 120, rows).round(2)
    tickets = rng.poisson(1.5, rows)
    risk = -0.05 * tenure + 0.02 * monthly + 0.6 * tickets + rng.normal(0, 0.5, rows)
    churn = np.where(risk > np.median(risk) + 0.3, "leaves", "stays")
    lines = ["tenure,monthly_charges,support_tickets,churn"]
    lines += [f"{a},{b},{c},{d}" for a, b, c, d in zip(tenure, monthly, tickets, churn)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _cli_files(directory):
    _customers(directory / "customers.csv", 2000, 0)
    _customers(directory / "new_customers.csv", 500, 1)


GIVEN = {"cli.md": _cli_files}


# --- the tests ---

@pytest.fixture(scope="module")
def readme(tmp_path_factory):
    """What the README's python blocks leave: (namespace, error or None).

    Run once here; its own test fails if it failed, and so does each guide's.
    """
    directory = tmp_path_factory.mktemp("readme")
    namespace = {"__name__": "__main__"}
    cwd = os.getcwd()
    os.chdir(directory)
    try:
        ran = run_page(_python(parse(README)), namespace)
    except BaseException as error:  # noqa: BLE001 -- reported by each test
        if isinstance(error, (KeyboardInterrupt, SystemExit)):
            raise
        return None, error
    finally:
        os.chdir(cwd)
    return (namespace, ran), None


def test_readme_examples_run(readme):
    result, error = readme
    if error is not None:
        raise error
    namespace, ran = result
    assert ran >= 1
    # The guides lean on these (they say so).
    for name in ("search", "X_train", "X_test", "y_train", "y_test"):
        assert name in namespace, name
    # Its shell blocks are marked or run.
    for block in parse(README):
        if block.language in _SHELL:
            assert block.skip or runnable(block), block.where()


def _readme_copy(readme):
    result, error = readme
    if error is not None:
        pytest.fail(f"the README's example failed, and the guides continue it: {error!r}")
    namespace, _ = result
    # Modules do not copy; everything else does, so no guide sees another's changes.
    return {name: value if isinstance(value, types.ModuleType) else copy.deepcopy(value)
            for name, value in namespace.items() if name != "__builtins__"}


@pytest.mark.parametrize("page", [p.name for p in GUIDES])
def test_guide_examples_run(page, readme, tmp_path, monkeypatch):
    blocks = parse(ROOT / "docs" / page)
    if page in NO_CODE:
        assert not blocks, f"{page} now shows code: take it out of NO_CODE so that it runs"
        return
    assert blocks, f"{page} shows no code: add it to NO_CODE"
    assert_something_runs(page, blocks)
    namespace = _readme_copy(readme)
    monkeypatch.chdir(tmp_path)
    GIVEN.get(page, lambda directory: None)(tmp_path)
    assert run_page(blocks, namespace) >= 1


# --- the parser itself, on pages it must refuse ---

def _page(tmp_path, text):
    page = tmp_path / "page.md"
    page.write_text(text, encoding="utf-8")
    return page


def test_a_marker_without_a_reason_is_refused(tmp_path):
    for marker in ("<!-- docs-test: skip -->", "<!-- docs-test: skip () -->",
                   "<!-- docs-test: skip because -->"):
        page = _page(tmp_path, f"{marker}\n```python\nprint(1)\n```\n")
        with pytest.raises(AssertionError, match="marker must read"):
            parse(page)


def test_a_marker_away_from_a_block_is_refused(tmp_path):
    page = _page(tmp_path, "<!-- docs-test: skip (GPU) -->\ntext\n```python\nprint(1)\n```\n")
    with pytest.raises(AssertionError, match="not right before a code block"):
        parse(page)


def test_markers_reasons_and_shell_commands_are_read(tmp_path):
    page = _page(tmp_path, "# t\n\n<!-- docs-test: skip (needs a CUDA GPU) -->\n```python\n"
                           "x = 1\n```\n\n```bash\nfastbp train --data a.csv \\\n"
                           "    --target y   # a comment\npip install x\n```\n"
                           "```console\n$ fastbp info\nsome output\n```\n")
    gpu, bash, console = parse(page)
    assert (gpu.skip, gpu.line, gpu.source) == ("needs a CUDA GPU", 5, "x = 1\n")
    assert bash.skip is None and not runnable(bash)
    assert shell_commands(bash) == [["fastbp", "train", "--data", "a.csv", "--target", "y"],
                                    ["pip", "install", "x"]]
    assert shell_commands(console) == [["fastbp", "info"]] and runnable(console)


def test_a_block_inside_a_list_item_is_read_dedented(tmp_path):
    # rev-322: fences were matched at the start of a line only, so a block
    # indented in a list item (scaling-search.md's threading example) was
    # neither run nor asked for a marker.
    page = _page(tmp_path, "- item:\n\n  ```python\n  if True:\n      x = 1\n  ```\n"
                           "- next\n\n  <!-- docs-test: skip (GPU) -->\n  ```python\n  y = 2\n  ```\n")
    item, skipped = parse(page)
    assert (item.line, item.source, item.skip) == (4, "if True:\n    x = 1\n", None)
    assert (skipped.source, skipped.skip) == ("y = 2\n", "GPU")


def test_a_failing_block_fails_the_page(tmp_path):
    page = _page(tmp_path, "```python\nx = 1\n```\n```python\nraise ValueError(x)\n```\n")
    with pytest.raises(pytest.fail.Exception, match=r"page.md:5: ValueError\(1\)"):
        run_page(parse(page), {})


def test_a_page_whose_every_block_is_excluded_is_refused(tmp_path):
    page = _page(tmp_path, "<!-- docs-test: skip (GPU) -->\n```python\nx = 1\n```\n"
                           "```bash\npip install x\n```\n```text\nout\n```\n")
    with pytest.raises(AssertionError, match="every block is excluded"):
        assert_something_runs(page.name, parse(page))
