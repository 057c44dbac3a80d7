"""The Python surface a notebook user meets: what ``import cnnspace`` reaches, and errors from
misuse that say what to do instead."""
import subprocess
import sys


def test_subpackages_load_on_first_use_and_torch_only_with_them():
    code = ("import sys, cnnspace\n"
            "assert 'cnnspace.nn' not in sys.modules\n"
            "assert cnnspace.space.DesignSpace and cnnspace.scale.predict\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n"
            "assert callable(cnnspace.nn.build) and 'torch' in sys.modules\n"
            "assert {'nn', 'space', 'explore', 'report'} <= set(dir(cnnspace))\n"
            "print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr
