"""jitmlp drops its cached kernels when any of its sources changed, wherever numba keeps them."""

import os
import subprocess
import sys

CODE = "import jitmlp._config as c; print(c._CACHE_DIR)"


def _cache_dir(env):
    out = subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True,
                         check=True)
    return out.stdout.strip().splitlines()[-1]


def test_stale_kernels_in_numba_cache_dir_are_dropped(tmp_path):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    cache_dir = _cache_dir(env)  # first import: writes the sources' digest there
    assert cache_dir.startswith(str(tmp_path))
    stamp = os.path.join(cache_dir, "jitmlp-sources.sha256")
    kernel = os.path.join(cache_dir, "_epoch.run_epoch-1.py311.nbi")
    with open(kernel, "w") as f:
        f.write("cached")
    _cache_dir(env)  # same sources: the cached kernel stays
    assert os.path.isfile(kernel)
    with open(stamp, "w") as f:
        f.write("digest of other sources")
    _cache_dir(env)  # sources changed since the kernel was cached: it goes
    assert not os.path.isfile(kernel)
    with open(stamp) as f:
        assert f.read() != "digest of other sources"


def _kernel_modules():
    """Modules that define compiled code (jit, jit_parallel, intrinsic, overload), and what they
    import from the package, transitively."""
    import ast
    from pathlib import Path

    import jitmlp

    package = Path(jitmlp.__file__).parent
    imports, defines = {}, set()
    for source in package.glob("*.py"):
        tree = ast.parse(source.read_text())
        imports[source.name] = {f"{node.module}.py" for node in ast.walk(tree)
                                if isinstance(node, ast.ImportFrom) and node.level == 1
                                and node.module}
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                for decorator in node.decorator_list:
                    target = decorator.func if isinstance(decorator, ast.Call) else decorator
                    name = getattr(target, "id", getattr(target, "attr", ""))
                    if name in ("jit", "jit_parallel", "intrinsic", "overload"):
                        defines.add(source.name)
    modules, todo = set(), list(defines)
    while todo:
        name = todo.pop()
        if name not in modules:
            modules.add(name)
            todo.extend(imports.get(name, ()))
    return modules


def test_the_digest_covers_every_module_kernels_are_compiled_from():
    import jitmlp._config as config

    assert "_epoch.py" in _kernel_modules() and "_estimators.py" not in _kernel_modules()
    assert set(config.KERNEL_SOURCES) == _kernel_modules()
