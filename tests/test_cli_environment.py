"""What the machine refuses (a full or read-only disk, too little memory) and input too large to
read are one line and exit 2 from every command, never a traceback."""
import errno

import pytest

from cnnspace.cli import main
from cnnspace.spec import SpecError, loads


def test_an_unwritable_output_is_one_line(capsys, monkeypatch, tmp_path):
    import tempfile

    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")
    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    assert main(["spec", "nin", "-o", str(tmp_path / "nin.yaml")]) == 2
    err = capsys.readouterr().err
    assert err == f"cnnspace spec: error: cannot write {tmp_path / 'nin.yaml'}: Read-only file system\n"


def test_any_other_os_error_is_one_line_naming_the_file(capsys, monkeypatch):
    import cnnspace.commands.zoo as zoo

    def fail(args):
        raise OSError(errno.ENOSPC, "No space left on device", "/runs/x/metrics.jsonl")
    monkeypatch.setattr(zoo, "run", fail)
    assert main(["zoo"]) == 2
    assert capsys.readouterr().err == ("cnnspace zoo: error: /runs/x/metrics.jsonl: No space "
                                       "left on device\n")


def test_running_out_of_memory_is_one_line_and_other_runtime_errors_stay_bugs(capsys,
                                                                              monkeypatch):
    import cnnspace.commands.zoo as zoo
    message = ("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't "
               "allocate memory: you tried to allocate 360000000000 bytes.")

    def fail(args):
        raise RuntimeError(message)
    monkeypatch.setattr(zoo, "run", fail)
    assert main(["zoo"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cnnspace zoo: error: not enough memory") and err.count("\n") == 1

    def bug(args):
        raise RuntimeError("a bug")
    monkeypatch.setattr(zoo, "run", bug)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["zoo"])


BILLION_LAUGHS = "name: lol\ninput: [3, 8, 8]\nlayers: [{name: r, type: relu}]\nmeta:\n" + \
    '  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
        f"  {chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n"
        for i in range(8))


@pytest.mark.parametrize("text, message", [
    (BILLION_LAUGHS, "more than 1,000,000 values once its aliases"),
    ("name: deep\ninput: [3, 8, 8]\nlayers: " + "[" * 5000 + "]" * 5000, "nested too deeply"),
    ("name: deep\ninput: [3, 8, 8]\nlayers: " + "[" * 150 + "]" * 150, "more than 100 levels"),
    ("name: loop\ninput: [3, 8, 8]\nlayers: [{name: r, type: relu}]\nmeta: &m {self: *m}\n",
     "refers to a value that contains it"),
])
def test_yaml_too_large_or_too_deep_is_refused_before_it_is_expanded(text, message):
    with pytest.raises(SpecError, match=message):
        loads(text, source="evil.yaml")


@pytest.mark.parametrize("text, message", [
    ("name: twice\ninput: [3, 8, 8]\nlayers: [{name: c, type: conv2d, out_channels: 4, "
     "kernel: 3, kernel: 5}]\n", "line 3: key 'kernel' is given twice \\(first on line 3\\)"),
    ("name: twice\ninput: [3, 8, 8]\nlayers: [{name: r, type: relu}]\nlayers: []\n",
     "line 4: key 'layers' is given twice \\(first on line 3\\)"),
    ("name: big\ninput: [3, 8, " + "9" * 5000 + "]\nlayers: []\n", "Exceeds the limit"),
    ("name: when\ninput: [3, 8, 8]\nlayers: []\nmeta: {made: 2024-13-45}\n", "month must be"),
])
def test_yaml_that_python_would_read_differently_or_not_at_all_is_one_error(text, message):
    with pytest.raises(SpecError, match=message):
        loads(text, source="odd.yaml")


def test_keys_of_different_types_are_different_keys():
    from cnnspace._yaml_file import safe_load
    assert safe_load("{3: int, '3': str, <<: {m: 1}}") == {3: "int", "3": "str", "m": 1}


def test_a_setting_python_cannot_hold_as_a_value_is_taken_as_text(capsys):
    import json
    assert main(["analyze", "firenet", "--set", "name=2024-13-45", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == "2024-13-45"
    assert main(["analyze", "firenet", "--set", "sr=" + "9" * 5000]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cnnspace analyze: error: field 'sr': expected a squeeze ratio")
    assert err.count("\n") == 1
