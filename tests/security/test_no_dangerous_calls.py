"""No eval/exec of text, no pickle, no shell=True, no yaml.load in the shipped code (tests and
bench excepted), and no eval/new Function in our own JavaScript."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_PYTHON = ["config", "topology", "processing", "dashboard", "ops", "manage.py"]
OUR_JAVASCRIPT = ["static/common", "static/editor", "static/dashboard", "static/processing"]

PYTHON_CALLS = re.compile(
    r"(^|[^a-z_.])(eval|exec)\(|pickle\.loads?\(|marshal\.loads?\(|shell\s*=\s*True|yaml\.load\(|os\.system\("
)
JS_CALLS = re.compile(r"(^|[^a-zA-Z_.])eval\(|new Function\(|setTimeout\(\s*[\"'`]|setInterval\(\s*[\"'`]")


def files(roots, suffixes):
    for root in roots:
        path = ROOT / root
        candidates = [path] if path.is_file() else path.rglob("*")
        for file in candidates:
            if file.suffix in suffixes and "/tests/" not in file.as_posix().replace(str(ROOT), ""):
                yield file


def offending_lines(roots, suffixes, pattern):
    found = []
    for file in files(roots, suffixes):
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                found.append(f"{file.relative_to(ROOT)}:{number}: {line.strip()}")
    return found


def test_shipped_python_has_no_eval_exec_pickle_shell_or_yaml_load():
    scanned = list(files(SHIPPED_PYTHON, {".py"}))
    assert len(scanned) > 20  # the scan looks where the code is
    assert offending_lines(SHIPPED_PYTHON, {".py"}, PYTHON_CALLS) == []


def test_our_javascript_has_no_eval_or_string_timers():
    assert list(files(OUR_JAVASCRIPT, {".js", ".mjs"}))
    assert offending_lines(OUR_JAVASCRIPT, {".js", ".mjs"}, JS_CALLS) == []


def test_the_pattern_would_catch_each_forbidden_call():
    for line in ["x = eval(text)", "exec(code)", "pickle.loads(b)", "run(cmd, shell=True)", "yaml.load(f)"]:
        assert PYTHON_CALLS.search(line), line
    for line in ["model.evaluate(x)", "self.exec_plan(p)", "yaml.safe_load(f)", "literal.exec_count"]:
        assert not PYTHON_CALLS.search(line), line
    assert JS_CALLS.search("const f = new Function('return 1')")
    assert not JS_CALLS.search("setTimeout(() => go(), 5)")
